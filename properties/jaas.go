package properties

import (
	"errors"
	"fmt"
	"strings"
)

const (
	plainModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

type loginModule struct {
	module  string
	flag    string
	options map[string]string
}

// parseJAAS parses sasl.jaas.config the way Kafka's JaasConfig does:
//
//	<LoginModuleClass> <flag> [<name>=<value> ...];
//
// flag is required, requisite, sufficient or optional; a value is a bare
// word or a string in double or single quotes (Confluent Cloud's files
// use single quotes) where a backslash escapes the next character. Kafka
// clients take exactly one login module.
func parseJAAS(s string) (loginModule, error) {
	toks, err := jaasTokens(s)
	if err != nil {
		return loginModule{}, err
	}
	if len(toks) < 3 || toks[len(toks)-1].text != ";" || toks[len(toks)-1].quoted {
		return loginModule{}, errors.New(`want "<LoginModule> required username=\"…\" password=\"…\";"`)
	}
	toks = toks[:len(toks)-1]
	lm := loginModule{module: toks[0].text, flag: toks[1].text, options: map[string]string{}}
	if toks[0].quoted || lm.module == "" {
		return loginModule{}, errors.New("missing login module class")
	}
	switch lm.flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return loginModule{}, fmt.Errorf("login module flag %q: want required, requisite, sufficient or optional", lm.flag)
	}
	rest := toks[2:]
	for n := 1; len(rest) > 0; n++ {
		if len(rest) < 3 || rest[0].quoted || rest[1].text != "=" || rest[1].quoted {
			if rest[0].text == ";" {
				return loginModule{}, errors.New("more than one login module (Kafka clients take one)")
			}
			// Not quoting the token: a malformed line may put a piece of
			// the password there.
			return loginModule{}, fmt.Errorf("option %d: want name=value (quote values with blanks)", n)
		}
		if _, dup := lm.options[rest[0].text]; dup {
			return loginModule{}, fmt.Errorf("option %q given twice", rest[0].text)
		}
		lm.options[rest[0].text] = rest[2].text
		rest = rest[3:]
	}
	return lm, nil
}

type jaasToken struct {
	text   string
	quoted bool
}

// jaasTokens splits into words, quoted strings, "=" and ";". Errors never
// quote the text: it holds a password.
func jaasTokens(s string) ([]jaasToken, error) {
	var toks []jaasToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=' || c == ';':
			toks = append(toks, jaasToken{text: string(c)})
			i++
		case c == '"' || c == '\'':
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) {
					sb.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					closed = true
					break
				}
				sb.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value starting at offset %d", i)
			}
			toks = append(toks, jaasToken{text: sb.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r=;\"'", rune(s[j])) {
				j++
			}
			toks = append(toks, jaasToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}
