// Package sel interprets SEL, the expression language of Netflix Maestro
// workflow definitions: a safe, Java-like language in which a param's
// "expression" is a small program whose value is that of its return
// statement, or else of its final expression statement.
//
//	p, err := sel.Parse(`int n = Math.max(a, 2); return "n=" + n;`)
//	v, err := p.Eval(env, sel.DefaultLimits()) // "n=3" when param a is 3
//
// # Language
//
// Statements: local variable declarations with a Java type (int, long,
// float, double, boolean and their boxed names, String, Map, HashMap,
// LinkedHashMap, ArrayList, List, Set, DateTime, DateTimeZone,
// DateTimeFormatter, Days, UUID, Object, and one-dimensional arrays of
// long, double, boolean and String); assignment to an undeclared name,
// which declares it with the value's type; blocks; if / else if / else;
// while; for (init; cond; update) and for (Type x : arrayOrList); break;
// continue; return expr; throw expr. A throw ends evaluation with an
// *Error of KindThrown whose Msg is the thrown string (or the message of a
// thrown new RuntimeException("..."); any other value is printed). Imports
// are accepted and ignored. The final ';' may be omitted, as Maestro adds
// it.
//
// Variables live in one flat scope, as in Maestro: a variable declared in a
// block stays visible after it. A variable keeps its type: assigning a
// string to a long is an error, a long assigned to a double widens, and a
// compound assignment narrows as Java's does.
//
// Expressions: integer (long, wrapping on overflow), floating-point,
// string ('...' or "..." with Java escapes), boolean and null literals;
// + - * / % (integer division truncates; division by zero is an error);
// unary - + !; < <= > >= == != (strings compare by value with == and need
// compareTo for ordering; a number equals a string holding its decimal
// form, as in Maestro); && || (short-circuit); ?:; = += -= *= /= %=;
// ++ and -- on variables and array elements; casts to int, long, float,
// double and boolean; string concatenation with +, numbers printing as
// Java prints them (3.0, 1.0E10); new T[n], new T[]{...}, a[i], a.length;
// method calls and the classes below.
//
// Classes: Math (min max abs pow sqrt floor ceil round, PI, E; random is
// refused as evaluation must be deterministic); String (valueOf format join
// escape, and the usual instance methods: length isEmpty charAt substring
// indexOf lastIndexOf contains startsWith endsWith toUpperCase toLowerCase
// trim replace replaceAll replaceFirst split matches equals
// equalsIgnoreCase compareTo concat repeat ...); Long, Integer (valueOf
// parseLong parseInt toString MAX_VALUE MIN_VALUE); Double, Float (valueOf
// parseDouble toString); Boolean (parseBoolean valueOf); Map and HashMap
// (put get getOrDefault containsKey remove size isEmpty, keySet as a
// sorted list, and m['k']); ArrayList (add get set remove contains indexOf
// size isEmpty clear toArray); Arrays.asList (returns its argument, as in Maestro);
// Joda-Time's DateTime, DateTimeZone, DateTimeFormat / DateTimeFormatter
// (patterns with G C Y x w e E y D M d a K h H k m s S z Z and quoted
// text), DateTime.Property, Days and DateTimeConstants; Maestro's Util
// (dateIntToTs, tsToDateInt, incrementDateInt, dateIntHourToTs,
// dateIntsBetween, intsBetween, timeoutForDateTimeDeadline,
// timeoutForDateIntDeadline); UUID.randomUUID and System.currentTimeMillis
// when the Env provides them; and params (get, containsKey, params['x'],
// getFromStep, and any other method through ParamsExtension).
//
// Dates without an explicit zone are in UTC. Two-digit years (yy) parse
// into 1950-2049. Util follows Maestro: a date int is yyyyMMdd read in UTC
// and may be given as a long or a String; dateIntToTs returns epoch
// milliseconds; tsToDateInt and incrementDateInt return the date int as a
// String; dateIntHourToTs(date, hour, zone, dayOffset, hourOffset) reads
// date+hour in zone, then moves back dayOffset calendar days and
// hourOffset hours; dateIntsBetween(start, end, step) and intsBetween
// exclude end. With a negative step intsBetween counts down from start,
// while dateIntsBetween lists the dates from end (inclusive) to start
// (exclusive) in reverse, both as Maestro does.
//
// Not supported, as in Maestro: declaring classes or methods, lambdas,
// generics (type arguments are accepted and ignored), switch, do-while,
// try/catch, labels, bitwise and shift operators, char, byte and short,
// multi-dimensional arrays. Also not supported: regular expression
// features Go's RE2 lacks (backreferences, lookaround), String.format's
// %t, %a and %h, the zzzz pattern (full zone names), and params methods
// other than get, containsKey and getFromStep unless the Env implements
// ParamsExtension. Math.random is refused, and UUID.randomUUID,
// System.currentTimeMillis and new DateTime() need the Env to provide a
// UUIDSource or Clock, so that evaluation is deterministic.
//
// Accepted beyond Maestro's grammar, as Java does: ++ and --, for-each
// loops, primitive casts, comma lists in for headers, hexadecimal
// literals, empty statements, ArrayList and Set. Behaving differently
// from Maestro: && and || short-circuit; values are copied on assignment
// (Maestro could alias a variable and a map entry); a long assigned to a
// double widens; null may be assigned to String and object variables;
// map keySet and map printing use sorted key order; arrays, maps and
// lists print their contents; and reading a name that is neither a
// variable, a class nor a param is an error rather than null.
//
// # Names and params
//
// A bare identifier is a local variable if one is defined at that point,
// else a known class name (Math, Util, ...), else a param read through
// Env.Param. A name of the form step__param that the Env does not know
// as a param is read through Env.StepParam("step", "param"). Reading a
// name that resolves to nothing is an error. params.get('x') and
// params['x'] return null for a missing param. Program.Refs lists what a
// program reads, so a caller can order evaluation and check references
// before running anything.
//
// # Values
//
// Values cross the API as Go values of these types (Value is any):
//
//	SEL type                 Go type             Maestro param type
//	null                     nil
//	boolean                  bool                BOOLEAN
//	int, long                int64               LONG
//	float, double            float64             DOUBLE
//	String                   string              STRING
//	long[] / int[]           []int64             LONG_ARRAY
//	double[] / float[]       []float64           DOUBLE_ARRAY
//	boolean[]                []bool              BOOLEAN_ARRAY
//	String[]                 []string            STRING_ARRAY
//	Map                      map[string]any      MAP (and STRING_MAP)
//	ArrayList (result only)  one of the slices above, by element type
//
// An Env may also hand in int, int32, float32, []int and map[string]string
// (a STRING_MAP); map values may be any of the listed types, nested. Eval
// returns only the types above; a String[] holding null, a map holding
// null, or any other object (a DateTime, say) as the result is an error.
// An ArrayList result must hold elements of one type (longs and doubles
// together become doubles); an empty one becomes an empty []string.
//
// # Limits
//
// Every evaluation runs under Limits (see DefaultLimits): a step budget
// (10,000,000), iterations per loop execution (25,000, Maestro's limit),
// string length (1,000,000 bytes), array, list and map size (25,000,
// Maestro's limit), nesting depth (128), total bytes allocated
// (100,000,000, Maestro's memory limit), and the size of the result and of
// each argument handed to a ParamsExtension (1,000,000 bytes: strings and
// map keys by length, 8 bytes per array element or map entry, a value
// reached several times counted each time). Parse itself refuses sources over
// MaxSourceLen bytes and nesting deeper than MaxNesting. An infinite loop,
// a string that doubles in a loop or a huge array fails fast with an
// *Error of KindLimit; with the defaults a runaway program is stopped
// within a fraction of a second. Evaluation never panics; an internal
// failure is reported as an error.
package sel
