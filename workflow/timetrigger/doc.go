// Package timetrigger reads the time_triggers of a Maestro workflow
// definition and computes when they fire.
//
// A trigger is CRON (a cron expression read in a time zone), PREDEFINED
// (@hourly, @daily, @weekly, @monthly or @yearly, also in a zone) or
// INTERVAL (a fixed period from a start instant). ParseJSON reads one
// element of time_triggers with Maestro's member names; ParseCron and
// ParsePredefined read the expressions alone.
//
// Next is exact, not a scan: it jumps from field to field, evaluates the
// day-of-month and day-of-week rules once per schedule for every shape of
// month, and visits each daylight-saving period at most once. A schedule
// whose days can never occur ("0 0 30 2 *") is known to be empty when
// parsed; otherwise Next searches up to the end of year 9999, so a rare but
// real schedule (the fifth Monday of February) is still found decades out.
//
// Clock changes: a wall time skipped when clocks go forward fires once, as
// far after the skipped time as the clocks jumped (02:30 becomes 03:30 on a
// one-hour jump); a wall time repeated when clocks go back fires once, at its
// first occurrence, unless the schedule fires in every hour of the day, in
// which case it keeps firing through the repeated hour. Maestro's cron
// library does the same for skipped times and for daily and hourly
// schedules.
//
// Fire times are pure functions of the trigger, the instant asked about, the
// seed given to FireTime, and the time zone database. Zone names resolve
// through the host's zoneinfo files when it has them and otherwise through
// the copy embedded in the binary, so servers that must agree should either
// all run without zoneinfo files (as a FROM-scratch image does) or share one
// version of them.
package timetrigger
