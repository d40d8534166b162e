package jobspec

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// WithIntegerErrors adds to the result of decoding data into doc (err,
// from yaml.v3) an error for every scalar written as a non-integer number
// (1.5, 1e3) where doc has an integer field: yaml.v3 silently truncates
// such a float into an int. The errors take yaml.v3's own form ("line N:
// cannot unmarshal !!float `1.5` into int32", in a *yaml.TypeError with
// the decoder's), so every caller's explanation of yaml errors names the
// file, line and field of these too. A decode error other than a
// TypeError (a syntax error) is returned as it is.
func WithIntegerErrors(err error, data []byte, doc any) error {
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	var bad []string
	walkIntegers(&root, reflect.TypeOf(doc), &bad)
	if len(bad) == 0 {
		return err
	}
	if te == nil {
		te = &yaml.TypeError{}
	}
	te.Errors = append(te.Errors, bad...)
	slices.SortStableFunc(te.Errors, func(a, b string) int { return errorLine(a) - errorLine(b) })
	return te
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// walkIntegers records the scalars of n that decode into an integer of
// type t but are not integers.
func walkIntegers(n *yaml.Node, t reflect.Type, bad *[]string) {
	if n == nil || t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == durationType {
		return // decodes itself; yaml.v3 refuses a float for a duration
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkIntegers(c, t, bad)
		}
	case yaml.AliasNode:
		walkIntegers(n.Alias, t, bad)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch t.Kind() {
			case reflect.Map:
				walkIntegers(v, t.Elem(), bad)
			case reflect.Struct:
				walkIntegers(v, fieldType(t, k.Value), bad)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, c := range n.Content {
				walkIntegers(c, t.Elem(), bad)
			}
		}
	case yaml.ScalarNode:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n.ShortTag() == "!!float" {
				*bad = append(*bad, fmt.Sprintf("line %d: cannot unmarshal !!float `%s` into %s", n.Line, n.Value, t))
			}
		}
	}
}

// fieldType is the type of struct t's field with YAML key name (inline
// structs included); nil when there is none.
func fieldType(t reflect.Type, name string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if got := fieldType(ft, name); got != nil {
					return got
				}
			}
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		if key == name {
			return f.Type
		}
	}
	return nil
}

// errorLine is the line number of a yaml.v3 error ("line N: ..."); 0 when
// it has none.
func errorLine(msg string) int {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:strings.IndexFunc(rest+":", func(r rune) bool { return r < '0' || r > '9' })])
	return n
}
