package cursor

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestCursor(t *testing.T) {
	s := Signer{Secret: []byte("k1")}
	key := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "NODE#x"},
		"SK": &types.AttributeValueMemberS{Value: "NODE"},
	}
	good, err := s.Encode("alice\nGET /v1/distributors\nq=a", key)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a cursor decodes for the same caller and query", func(t *testing.T) {
		got, err := s.Decode("alice\nGET /v1/distributors\nq=a", good)
		if err != nil {
			t.Fatal(err)
		}
		if got["PK"].(*types.AttributeValueMemberS).Value != "NODE#x" {
			t.Fatalf("key = %v", got)
		}
	})
	p, sig, _ := strings.Cut(good, ".")
	bad := []struct{ name, binding, cursor string }{
		{"another caller", "bob\nGET /v1/distributors\nq=a", good},
		{"another query", "alice\nGET /v1/distributors\nq=b", good},
		{"altered payload", "alice\nGET /v1/distributors\nq=a", "e30" + p[3:] + "." + sig},
		{"altered signature", "alice\nGET /v1/distributors\nq=a", p + "." + strings.Repeat("A", len(sig))},
		{"no signature", "alice\nGET /v1/distributors\nq=a", p},
		{"not base64", "alice\nGET /v1/distributors\nq=a", "!!.!!"},
		{"too long", "alice\nGET /v1/distributors\nq=a", strings.Repeat("a", MaxLen+1)},
	}
	for _, c := range bad {
		t.Run("refuses "+c.name, func(t *testing.T) {
			if _, err := s.Decode(c.binding, c.cursor); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("refuses a cursor signed with another secret", func(t *testing.T) {
		if _, err := (Signer{Secret: []byte("k2")}).Decode("alice\nGET /v1/distributors\nq=a", good); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Decode = %v", err)
		}
	})
	t.Run("refuses everything without a secret", func(t *testing.T) {
		if _, err := (Signer{}).Decode("alice\nGET /v1/distributors\nq=a", good); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Decode = %v", err)
		}
	})
}
