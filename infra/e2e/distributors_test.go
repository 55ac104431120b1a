package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

type distributorPage struct {
	Items      []distributor `json:"items"`
	NextCursor *string       `json:"nextCursor"`
}

func TestDistributorLifecycle(t *testing.T) {
	tok := admin(t)
	name := unique("Lifecycle Ltd")

	res := do(t, req{method: "POST", path: "/v1/distributors", token: tok,
		body: map[string]string{"name": "  " + name + "  ", "contactEmail": "ops@lifecycle.example"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var d distributor
	res.json(t, &d)
	t.Run("create answers the resource with Location and ETag", func(t *testing.T) {
		if d.Name != name || d.Status != "active" || d.Version != 1 || d.ContactEmail != "ops@lifecycle.example" {
			t.Fatalf("created %+v", d)
		}
		if !nodes.ValidID(tree.KindDistributor, d.ID) || d.CreatedAt == "" || d.UpdatedAt == "" {
			t.Fatalf("created %+v", d)
		}
		if loc := res.Header.Get("Location"); loc != "/v1/distributors/"+d.ID {
			t.Fatalf("Location = %q", loc)
		}
		if et := res.Header.Get("ETag"); et != `"1"` {
			t.Fatalf("ETag = %q", et)
		}
	})
	path := "/v1/distributors/" + d.ID

	t.Run("get answers the same resource", func(t *testing.T) {
		res := do(t, req{method: "GET", path: path, token: tok})
		var got distributor
		res.json(t, &got)
		if res.Status != 200 || got != d || res.Header.Get("ETag") != `"1"` {
			t.Fatalf("get: %d %+v %s", res.Status, got, res.Header.Get("ETag"))
		}
	})

	t.Run("a duplicate name in another case is a conflict", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": strings.ToUpper(name)}})
		res.problem(t, 409, "name-taken").field(t, "name")
	})

	t.Run("a stale If-Match is refused with 412 and changes nothing", func(t *testing.T) {
		res := do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"name": "Never"}, header: map[string]string{"If-Match": `"7"`}})
		res.problem(t, 412, "stale")
		got := do(t, req{method: "GET", path: path, token: tok})
		var now distributor
		got.json(t, &now)
		if now.Name != name || now.Version != 1 {
			t.Fatalf("after a stale update: %+v", now)
		}
	})

	renamed := name + " Renamed"
	t.Run("update with the current ETag renames and bumps the version", func(t *testing.T) {
		res := do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"name": renamed}, header: map[string]string{"If-Match": `"1"`}})
		var got distributor
		res.json(t, &got)
		if res.Status != 200 || got.Name != renamed || got.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Fatalf("update: %d %+v", res.Status, got)
		}
	})

	t.Run("the old name is free again after the rename", func(t *testing.T) {
		other := createDistributor(t, tok, name)
		do(t, req{method: "DELETE", path: "/v1/distributors/" + other.ID, token: tok})
	})

	t.Run("suspend, suspend again, enable", func(t *testing.T) {
		res := do(t, req{method: "POST", path: path + "/suspend", token: tok})
		var got distributor
		res.json(t, &got)
		if res.Status != 200 || got.Status != "suspended" || got.Version != 3 {
			t.Fatalf("suspend: %d %s", res.Status, res.Body)
		}
		do(t, req{method: "POST", path: path + "/suspend", token: tok}).problem(t, 409, "invalid-transition")
		res = do(t, req{method: "POST", path: path + "/enable", token: tok})
		res.json(t, &got)
		if res.Status != 200 || got.Status != "active" || got.Version != 4 {
			t.Fatalf("enable: %d %s", res.Status, res.Body)
		}
		do(t, req{method: "POST", path: path + "/enable", token: tok}).problem(t, 409, "invalid-transition")
	})

	t.Run("delete with a stale If-Match is refused", func(t *testing.T) {
		do(t, req{method: "DELETE", path: path, token: tok, header: map[string]string{"If-Match": `"1"`}}).problem(t, 412, "stale")
	})

	t.Run("delete answers 204, then the distributor is gone and its name free", func(t *testing.T) {
		res := do(t, req{method: "DELETE", path: path, token: tok, header: map[string]string{"If-Match": `"4"`}})
		if res.Status != 204 || len(res.Body) != 0 {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
		do(t, req{method: "GET", path: path, token: tok}).problem(t, 404, "not-found")
		do(t, req{method: "DELETE", path: path, token: tok}).problem(t, 404, "not-found")
		again := createDistributor(t, tok, renamed)
		do(t, req{method: "DELETE", path: "/v1/distributors/" + again.ID, token: tok})
	})
}

func TestDistributorList(t *testing.T) {
	tok := admin(t)
	prefix := unique("Listco")
	var created []distributor
	for i, suffix := range []string{"Delta", "alpha", "Charlie", "bravo", "Echo"} {
		d := createDistributor(t, tok, fmt.Sprintf("%s %s", prefix, suffix))
		if i == 2 {
			do(t, req{method: "POST", path: "/v1/distributors/" + d.ID + "/suspend", token: tok})
		}
		created = append(created, d)
	}
	t.Cleanup(func() {
		for _, d := range created {
			do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID, token: tok})
		}
	})
	q := strings.ToLower(prefix)
	names := func(p distributorPage) string {
		var out []string
		for _, d := range p.Items {
			out = append(out, strings.TrimPrefix(d.Name, prefix+" "))
		}
		return strings.Join(out, ",")
	}
	list := func(t *testing.T, query string) distributorPage {
		t.Helper()
		res := do(t, req{method: "GET", path: "/v1/distributors?" + query, token: tok})
		if res.Status != 200 {
			t.Fatalf("list %s: %d %s", query, res.Status, res.Body)
		}
		var p distributorPage
		res.json(t, &p)
		return p
	}

	t.Run("a case-insensitive name search lists matches sorted by name", func(t *testing.T) {
		p := list(t, "q="+urlq(q))
		if got := names(p); got != "alpha,bravo,Charlie,Delta,Echo" || p.NextCursor != nil {
			t.Fatalf("got %s next %v", got, p.NextCursor)
		}
	})
	t.Run("the status filter combines with the search", func(t *testing.T) {
		if got := names(list(t, "status=suspended&q="+urlq(prefix))); got != "Charlie" {
			t.Fatalf("suspended: %s", got)
		}
		if got := names(list(t, "status=active&q="+urlq(strings.ToUpper(prefix)))); got != "alpha,bravo,Delta,Echo" {
			t.Fatalf("active: %s", got)
		}
	})
	t.Run("pages of two follow the cursor to the end, with no cursor on the last page", func(t *testing.T) {
		var all []string
		query := "limit=2&q=" + urlq(q)
		pages := 0
		for {
			p := list(t, query)
			pages++
			all = append(all, names(p))
			if p.NextCursor == nil {
				break
			}
			query = "limit=2&q=" + urlq(q) + "&cursor=" + urlq(*p.NextCursor)
		}
		if got := strings.Join(all, "|"); got != "alpha,bravo|Charlie,Delta|Echo" || pages != 3 {
			t.Fatalf("pages: %s", got)
		}
	})
	t.Run("a page that ends exactly at the last item has no cursor", func(t *testing.T) {
		p := list(t, "limit=5&q="+urlq(q))
		if len(p.Items) != 5 || p.NextCursor != nil {
			t.Fatalf("got %d items, next %v", len(p.Items), p.NextCursor)
		}
	})
	first := list(t, "limit=2&q="+urlq(q))
	cur := *first.NextCursor
	t.Run("a cursor is refused for another query", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/distributors?limit=2&q=x&cursor=" + urlq(cur), token: tok}).problem(t, 400, "invalid-cursor").field(t, "cursor")
	})
	t.Run("an altered cursor is refused", func(t *testing.T) {
		bad := "A" + cur[1:]
		if bad == cur {
			bad = "B" + cur[1:]
		}
		do(t, req{method: "GET", path: "/v1/distributors?limit=2&q=" + urlq(q) + "&cursor=" + urlq(bad), token: tok}).problem(t, 400, "invalid-cursor")
		do(t, req{method: "GET", path: "/v1/distributors?cursor=garbage", token: tok}).problem(t, 400, "invalid-cursor")
	})
	t.Run("a cursor is refused for another caller", func(t *testing.T) {
		other, _ := userAt(t, tree.RolePlatformAdmin, platformNode())
		do(t, req{method: "GET", path: "/v1/distributors?limit=2&q=" + urlq(q) + "&cursor=" + urlq(cur), token: other}).problem(t, 400, "invalid-cursor")
	})
}

func TestDistributorNamesAreUniqueUnderConcurrency(t *testing.T) {
	tok := admin(t)
	name := unique("Race")
	statuses := concurrently(t, 10, func(int) req {
		return req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": name}}
	})
	won := 0
	for _, s := range statuses {
		switch s {
		case 201:
			won++
		case 409:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won, want exactly 1: %v", won, statuses)
	}
	res := do(t, req{method: "GET", path: "/v1/distributors?q=" + urlq(name), token: tok})
	var p distributorPage
	res.json(t, &p)
	if len(p.Items) != 1 {
		t.Fatalf("listed %d distributors named %q", len(p.Items), name)
	}
	do(t, req{method: "DELETE", path: "/v1/distributors/" + p.Items[0].ID, token: tok})
}

func TestConcurrentUpdatesNeverSilentlyOverwrite(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Concurrent"))
	t.Cleanup(func() { do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID, token: tok}) })
	statuses := concurrently(t, 8, func(i int) req {
		return req{method: "PATCH", path: "/v1/distributors/" + d.ID, token: tok,
			body: map[string]string{"contactEmail": fmt.Sprintf("c%d@example.com", i)}, header: map[string]string{"If-Match": `"1"`}}
	})
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		} else if s != 412 {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if ok != 1 {
		t.Fatalf("%d updates of version 1 succeeded, want exactly 1: %v", ok, statuses)
	}
}

func platformNode() nodes.Item {
	it, err := nodes.Get(t0(), st, tree.PlatformID)
	if err != nil {
		panic(err)
	}
	return it
}
