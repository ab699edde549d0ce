package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parseOutputs decodes Maestro's output params document:
//
//	{"params": {"name": {"value": <any>, "type": "LONG", ...}}}
//
// Fields other than value and type are ignored, as Maestro does. A missing
// type is inferred from the value.
func parseOutputs(data []byte) (map[string]Output, error) {
	var top json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(err)
	}
	obj, err := object(top)
	if err != nil {
		return nil, fmt.Errorf(`output params: want an object like {"params": {...}}, got %s`, jsonKind(top))
	}
	raw, ok := obj["params"]
	if !ok || jsonKind(raw) == "null" {
		return nil, nil
	}
	params, err := object(raw)
	if err != nil {
		return nil, fmt.Errorf(`output params: "params" must be an object, got %s`, jsonKind(raw))
	}
	if len(params) == 0 {
		return nil, nil
	}
	// Sorted so that the error for a document with several bad params does
	// not change from run to run.
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make(map[string]Output, len(params))
	for _, name := range names {
		o, err := parseParam(name, params[name])
		if err != nil {
			return nil, fmt.Errorf("output params: %w", err)
		}
		out[name] = o
	}
	return out, nil
}

func parseParam(name string, raw json.RawMessage) (Output, error) {
	if strings.TrimSpace(name) == "" {
		return Output{}, errors.New("a param has an empty name")
	}
	p, err := object(raw)
	if err != nil {
		return Output{}, fmt.Errorf(`param %q must be an object like {"value": ...}, got %s`, name, jsonKind(raw))
	}
	value, ok := p["value"]
	if !ok {
		return Output{}, fmt.Errorf(`param %q has no "value"`, name)
	}
	typ := ""
	if t, ok := p["type"]; ok && jsonKind(t) != "null" {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return Output{}, fmt.Errorf(`param %q: "type" must be a string, got %s`, name, jsonKind(t))
		}
		typ = strings.ToUpper(strings.TrimSpace(s))
	}
	if typ == "" {
		if typ, err = inferType(value); err != nil {
			return Output{}, fmt.Errorf("param %q: %w", name, err)
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, value); err != nil {
		return Output{}, fmt.Errorf("param %q: %w", name, err)
	}
	return Output{Type: typ, JSON: compact.Bytes()}, nil
}

// inferType maps a JSON value to the Maestro param type a command most
// likely meant when it left the type out.
func inferType(v json.RawMessage) (string, error) {
	switch jsonKind(v) {
	case "string":
		return "STRING", nil
	case "number":
		if isInteger(v) {
			return "LONG", nil
		}
		return "DOUBLE", nil
	case "boolean":
		return "BOOLEAN", nil
	case "array":
		var elems []json.RawMessage
		if err := json.Unmarshal(v, &elems); err != nil {
			return "", err
		}
		return arrayType(elems)
	case "object":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return "", err
		}
		for _, e := range m {
			if jsonKind(e) != "string" {
				return "MAP", nil
			}
		}
		return "STRING_MAP", nil
	default:
		return "", fmt.Errorf(`cannot infer the type of %s; set "type"`, jsonKind(v))
	}
}

func arrayType(elems []json.RawMessage) (string, error) {
	if len(elems) == 0 {
		return "STRING_ARRAY", nil
	}
	var strs, longs, doubles, bools int
	for _, e := range elems {
		switch jsonKind(e) {
		case "string":
			strs++
		case "number":
			if isInteger(e) {
				longs++
			} else {
				doubles++
			}
		case "boolean":
			bools++
		}
	}
	switch n := len(elems); {
	case strs == n:
		return "STRING_ARRAY", nil
	case longs == n:
		return "LONG_ARRAY", nil
	case longs+doubles == n:
		return "DOUBLE_ARRAY", nil
	case bools == n:
		return "BOOLEAN_ARRAY", nil
	}
	return "", errors.New(`cannot infer the type of an array mixing kinds of values; set "type"`)
}

// isInteger reports whether a JSON number is an integer that fits a LONG;
// larger ones can only be carried as DOUBLE.
func isInteger(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	if strings.ContainsAny(s, ".eE") {
		return false
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func object(v json.RawMessage) (map[string]json.RawMessage, error) {
	if jsonKind(v) != "object" {
		return nil, errors.New("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// jsonKind names the kind of an already valid JSON value.
func jsonKind(v json.RawMessage) string {
	s := bytes.TrimLeft(v, " \t\r\n")
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("output params: invalid JSON at offset %d: %v", se.Offset, se)
	}
	return fmt.Errorf("output params: invalid JSON: %v", err)
}
