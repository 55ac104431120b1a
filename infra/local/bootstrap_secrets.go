package local

// Secrets Manager: generated secrets and the dynamic references that read them.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"opsconsole/infra/template"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// createSecret makes up the secret's value (GenerateSecretString) or takes its
// SecretString. Nothing is created in an emulator: CloudFormation resolves the
// {{resolve:secretsmanager:...}} references at deploy time, and so does Bootstrap.
func (b *bootstrapper) createSecret(_ context.Context, r template.Resource, props map[string]any) error {
	name := b.physicalName(r.LogicalID)
	if n, ok := props["Name"].(string); ok && n != "" {
		name = n
	}
	suffix, err := randomString(6, alnum)
	if err != nil {
		return err
	}
	arn := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", Region, AccountID, name, suffix)
	var value string
	if s, ok := props["SecretString"].(string); ok {
		value = s
	} else if value, err = generateSecret(template.AsMap(props["GenerateSecretString"])); err != nil {
		return err
	}
	b.res.Secrets[r.LogicalID] = Secret{ARN: arn, Name: name, Value: value}
	b.secrets[arn], b.secrets[name] = value, value
	b.refs[r.LogicalID] = arn
	b.atts[r.LogicalID] = map[string]any{"Id": arn}
	return nil
}

// generateSecret follows GenerateSecretString: PasswordLength (default 32), the
// Exclude* options, and SecretStringTemplate with GenerateStringKey.
func generateSecret(g map[string]any) (string, error) {
	length := 32
	if n, ok := g["PasswordLength"].(int); ok && n > 0 {
		length = n
	}
	const upper, lower, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	var set string
	if g["ExcludeUppercase"] != true {
		set += upper
	}
	if g["ExcludeLowercase"] != true {
		set += lower
	}
	if g["ExcludeNumbers"] != true {
		set += digits
	}
	if g["ExcludePunctuation"] != true {
		set += punct
	}
	if g["IncludeSpace"] == true {
		set += " "
	}
	if ex, ok := g["ExcludeCharacters"].(string); ok {
		set = strings.Map(func(r rune) rune {
			if strings.ContainsRune(ex, r) {
				return -1
			}
			return r
		}, set)
	}
	if set == "" {
		return "", errors.New("GenerateSecretString excludes every character")
	}
	s, err := randomString(length, set)
	if err != nil {
		return "", err
	}
	tmpl, _ := g["SecretStringTemplate"].(string)
	key, _ := g["GenerateStringKey"].(string)
	if tmpl == "" || key == "" {
		return s, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(tmpl), &obj); err != nil {
		return "", fmt.Errorf("SecretStringTemplate: %w", err)
	}
	obj[key] = s
	raw, err := json.Marshal(obj)
	return string(raw), err
}

func randomString(n int, set string) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(set)))
	for i := range out {
		j, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = set[j.Int64()]
	}
	return string(out), nil
}

var dynamicRef = regexp.MustCompile(`\{\{resolve:([a-z-]+):([^}]*)\}\}`)

// resolveDynamic replaces the {{resolve:secretsmanager:...}} references in s by the
// secrets' values. A secret the template does not declare gets a random 64-character
// value, the same for every reference.
func (b *bootstrapper) resolveDynamic(s string) (string, error) {
	var firstErr error
	out := dynamicRef.ReplaceAllStringFunc(s, func(m string) string {
		parts := dynamicRef.FindStringSubmatch(m)
		if parts[1] != "secretsmanager" {
			if firstErr == nil {
				firstErr = fmt.Errorf("dynamic reference %s: only secretsmanager is supported locally", m)
			}
			return m
		}
		fields := strings.Split(parts[2], ":")
		var id string
		var rest []string
		if strings.HasPrefix(parts[2], "arn:") && len(fields) >= 7 {
			id, rest = strings.Join(fields[:7], ":"), fields[7:]
		} else {
			id, rest = fields[0], fields[1:]
		}
		val, ok := b.secrets[id]
		if !ok {
			v, err := randomString(64, alnum)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			val, b.secrets[id] = v, v
		}
		if len(rest) >= 2 && rest[1] != "" { // SecretString:json-key
			var obj map[string]any
			if err := json.Unmarshal([]byte(val), &obj); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("dynamic reference %s: the secret is not JSON", m)
				}
				return m
			}
			return fmt.Sprint(obj[rest[1]])
		}
		return val
	})
	return out, firstErr
}
