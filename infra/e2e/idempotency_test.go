package e2e

import (
	"fmt"
	"strings"
	"testing"

	"opsconsole/shared/tree"
)

func TestCreateHonoursIdempotencyKey(t *testing.T) {
	tok := admin(t)
	name := unique("Idem")
	key := fmt.Sprintf("key-%s", strings.ReplaceAll(name, " ", "-"))
	create := func(token, key, name string) response {
		return do(t, req{method: "POST", path: "/v1/distributors", token: token,
			body: map[string]string{"name": name}, header: map[string]string{"Idempotency-Key": key}})
	}
	first := create(tok, key, name)
	var d distributor
	first.json(t, &d)
	t.Cleanup(func() { do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID, token: tok}) })

	t.Run("the same key and body replays the first answer and creates nothing more", func(t *testing.T) {
		again := create(tok, key, name)
		if again.Status != 201 || string(again.Body) != string(first.Body) ||
			again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("ETag") != first.Header.Get("ETag") {
			t.Fatalf("replay: %d %s %v", again.Status, again.Body, again.Header)
		}
		if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("replay header: first %q, again %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
		}
		var p distributorPage
		do(t, req{method: "GET", path: "/v1/distributors?q=" + urlq(name), token: tok}).json(t, &p)
		if len(p.Items) != 1 {
			t.Fatalf("%d distributors named %q", len(p.Items), name)
		}
	})
	t.Run("the same key with another body is a 422", func(t *testing.T) {
		create(tok, key, name+" Other").problem(t, 422, "idempotency-key-reused").field(t, "Idempotency-Key")
	})
	t.Run("another caller's identical key is their own", func(t *testing.T) {
		other, _ := userAt(t, tree.RolePlatformAdmin, platformNode())
		otherName := unique("Idem Other")
		res := create(other, key, otherName)
		var od distributor
		res.json(t, &od)
		if res.Header.Get("Idempotent-Replayed") != "" || od.Name != otherName {
			t.Fatalf("another caller got %s", res.Body)
		}
		do(t, req{method: "DELETE", path: "/v1/distributors/" + od.ID, token: tok})
	})
	t.Run("a refused request is replayed as refused", func(t *testing.T) {
		k := key + "-dup"
		create(tok, k, name).problem(t, 409, "name-taken")
		res := create(tok, k, name)
		res.problem(t, 409, "name-taken")
		if res.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("the refusal was not replayed")
		}
	})
	t.Run("a malformed key is a 400", func(t *testing.T) {
		create(tok, "has space", unique("x")).problem(t, 400, "validation").field(t, "Idempotency-Key")
		create(tok, strings.Repeat("k", 256), unique("x")).problem(t, 400, "validation").field(t, "Idempotency-Key")
	})
	t.Run("concurrent retries with one key create one distributor", func(t *testing.T) {
		k, n := key+"-race", unique("Idem Race")
		statuses := concurrently(t, 6, func(int) req {
			return req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": n}, header: map[string]string{"Idempotency-Key": k}}
		})
		for _, s := range statuses {
			if s != 201 && s != 409 {
				t.Fatalf("statuses %v", statuses)
			}
		}
		var p distributorPage
		do(t, req{method: "GET", path: "/v1/distributors?q=" + urlq(n), token: tok}).json(t, &p)
		if len(p.Items) != 1 {
			t.Fatalf("%d distributors created: %v", len(p.Items), statuses)
		}
		do(t, req{method: "DELETE", path: "/v1/distributors/" + p.Items[0].ID, token: tok})
	})
}
