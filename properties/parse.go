package properties

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Load reads a Java .properties file, such as the client.properties that
// Confluent Cloud or Amazon MSK hand out, and returns its keys and values.
// See Parse for the syntax.
func Load(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	props, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("properties: %s: %w", path, err)
	}
	return props, nil
}

// Parse parses the text of a .properties file with the rules of Java's
// Properties.load:
//
//   - Lines starting (after blanks) with # or ! are comments; blank lines
//     are skipped. A comment never continues onto the next line.
//   - A line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are dropped.
//   - The key runs to the first unescaped '=', ':' or blank; blanks and at
//     most one '=' or ':' separate it from the value (key=value, key: value,
//     key value). The value runs to the end of the logical line, trailing
//     blanks included.
//   - Escapes: \t \n \r \f, \uXXXX (UTF-16, surrogate pairs joined), and a
//     backslash before any other character stands for that character
//     (\=, \:, \#, \!, \ , \\).
//   - A key given twice keeps its last value.
//
// The input is read as UTF-8 (Java 9's PropertyResourceBundle does so too);
// Java's Properties.load(InputStream) would read ISO-8859-1, which differs
// only outside ASCII, where \uXXXX escapes work in both. A malformed
// \uXXXX escape or invalid UTF-8 is an error naming the line.
func Parse(data []byte) (map[string]string, error) {
	props := make(map[string]string)
	lineNo := 0
	for len(data) > 0 {
		var logical []byte
		start := lineNo + 1
		// Gather one logical line out of natural lines.
		first := true
		for {
			var nat []byte
			nat, data = nextLine(data)
			lineNo++
			nat = trimLeftBlanks(nat)
			if first {
				if len(nat) == 0 || nat[0] == '#' || nat[0] == '!' {
					break
				}
			}
			first = false
			if endsWithOddBackslashes(nat) && len(data) > 0 {
				logical = append(logical, nat[:len(nat)-1]...)
				continue
			}
			if endsWithOddBackslashes(nat) {
				// A continuation at the end of input: Java drops it.
				nat = nat[:len(nat)-1]
			}
			logical = append(logical, nat...)
			break
		}
		if len(logical) == 0 {
			continue
		}
		if !utf8.Valid(logical) {
			return nil, fmt.Errorf("line %d: invalid UTF-8", start)
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: key: %w", start, err)
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: value of %q: %w", start, key, err)
		}
		props[key] = value
	}
	return props, nil
}

// nextLine splits off one natural line, ended by \n, \r or \r\n.
func nextLine(data []byte) (line, rest []byte) {
	i := bytes.IndexAny(data, "\r\n")
	if i < 0 {
		return data, nil
	}
	line, rest = data[:i], data[i+1:]
	if data[i] == '\r' && len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
	}
	return line, rest
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

func endsWithOddBackslashes(b []byte) bool {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line (no leading blanks) into the raw,
// still escaped key and value.
func splitKeyValue(line []byte) (key, value []byte) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	key, rest := line[:i], line[i:]
	rest = trimLeftBlanks(rest)
	if len(rest) > 0 && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeftBlanks(rest[1:])
	}
	return key, rest
}

func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	var sb strings.Builder
	sb.Grow(len(b))
	var high rune // a UTF-16 high surrogate waiting for its pair
	flushHigh := func() {
		if high != 0 {
			sb.WriteRune(utf8.RuneError)
			high = 0
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			flushHigh()
			sb.WriteByte(c)
			continue
		}
		i++
		if i == len(b) {
			break // a lone trailing backslash, as Java: dropped
		}
		switch c = b[i]; c {
		case 't':
			flushHigh()
			sb.WriteByte('\t')
		case 'n':
			flushHigh()
			sb.WriteByte('\n')
		case 'r':
			flushHigh()
			sb.WriteByte('\r')
		case 'f':
			flushHigh()
			sb.WriteByte('\f')
		case 'u':
			// The error gives the offset, not the text: values hold
			// passwords.
			if i+5 > len(b) {
				return "", fmt.Errorf("malformed \\uXXXX escape at offset %d", i-1)
			}
			v, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uXXXX escape at offset %d", i-1)
			}
			i += 4
			r := rune(v)
			switch {
			case r >= 0xD800 && r < 0xDC00:
				flushHigh()
				high = r
			case r >= 0xDC00 && r < 0xE000 && high != 0:
				sb.WriteRune(0x10000 + (high-0xD800)<<10 + (r - 0xDC00))
				high = 0
			default:
				flushHigh()
				sb.WriteRune(r)
			}
		default:
			flushHigh()
			sb.WriteByte(c)
		}
	}
	flushHigh()
	return sb.String(), nil
}
