package throttle

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
)

// counters is an in-memory table of the limiter's counter items: it serves the one
// update the limiter makes (ADD attempts, SET type and expiresAt) and deletes.
type counters struct {
	store.Client
	mu    sync.Mutex
	count map[string]int
	exp   map[string]string
}

func keyOf(k map[string]types.AttributeValue) string {
	return k["PK"].(*types.AttributeValueMemberS).Value + "|" + k["SK"].(*types.AttributeValueMemberS).Value
}

func (c *counters) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := keyOf(in.Key)
	n, _ := strconv.Atoi(in.ExpressionAttributeValues[":n"].(*types.AttributeValueMemberN).Value)
	c.count[k] += n
	c.exp[k] = in.ExpressionAttributeValues[":e"].(*types.AttributeValueMemberN).Value
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{
		"attempts":  &types.AttributeValueMemberN{Value: strconv.Itoa(c.count[k])},
		"expiresAt": &types.AttributeValueMemberN{Value: c.exp[k]},
	}}, nil
}

func (c *counters) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.count, keyOf(in.Key))
	return &dynamodb.DeleteItemOutput{}, nil
}

func TestLimiter(t *testing.T) {
	db := &counters{count: map[string]int{}, exp: map[string]string{}}
	now := time.Unix(1_800_000_000, 0) // the start of a 15-minute window
	l := &Limiter{Store: &store.Store{DB: db, Table: "t"}, Window: 15 * time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	account := Key{Scope: "signin-email", Value: "ada@example.com", Max: 3}
	address := Key{Scope: "signin-ip", Value: "203.0.113.1", Max: 5}
	begin := func() *Attempt {
		t.Helper()
		a, err := l.Begin(ctx, account, address)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	for i := range 3 {
		if a := begin(); !a.Allowed {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	now = now.Add(10 * time.Minute)
	a := begin()
	if a.Allowed || a.RetryAfter != 5*time.Minute {
		t.Fatalf("the fourth attempt: allowed %v, retry after %s", a.Allowed, a.RetryAfter)
	}
	if exp := db.exp["THROTTLE#signin-email#ada@example.com|WINDOW#1800000000"]; exp != "1800000900" {
		t.Fatalf("expiresAt %s, want the window's end", exp)
	}

	// The next window starts from zero, whatever TTL has done to the old one.
	now = now.Add(5 * time.Minute)
	a = begin()
	if !a.Allowed {
		t.Fatal("refused in a new window")
	}
	// Success: the account starts afresh, the address gets this attempt back.
	if err := a.Settle(ctx, []string{"signin-email"}, []string{"signin-ip"}); err != nil {
		t.Fatal(err)
	}
	if n := db.count["THROTTLE#signin-ip#203.0.113.1|WINDOW#1800000900"]; n != 0 {
		t.Fatalf("the address still counts %d", n)
	}
	if _, ok := db.count["THROTTLE#signin-email#ada@example.com|WINDOW#1800000900"]; ok {
		t.Fatal("the account's counter was not cleared")
	}

	// A burst of parallel attempts is counted exactly: no more than Max get through.
	var wg sync.WaitGroup
	var mu sync.Mutex
	through := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := l.Begin(ctx, account)
			if err != nil {
				t.Error(err)
				return
			}
			if a.Allowed {
				mu.Lock()
				through++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if through != account.Max {
		t.Fatalf("%d of a burst of 20 got through, want %d", through, account.Max)
	}
}

func TestNodeCounter(t *testing.T) {
	db := &counters{count: map[string]int{}, exp: map[string]string{}}
	now := time.Unix(1_800_000_000, 0) // the start of an hour
	c := NodeCounter{Store: &store.Store{DB: db, Table: "t"}, Now: func() time.Time { return now }}
	ctx := context.Background()
	a := Cascades
	for i := range a.Max {
		if wait, err := c.Count(ctx, a, "ptn_a"); err != nil || wait != 0 {
			t.Fatalf("call %d: wait %s, %v", i+1, wait, err)
		}
	}
	now = now.Add(40 * time.Minute)
	if wait, err := c.Count(ctx, a, "ptn_a"); err != nil || wait != 20*time.Minute {
		t.Fatalf("over the allowance: wait %s, %v; want the rest of the window", wait, err)
	}
	if wait, _ := c.Count(ctx, a, "ptn_b"); wait != 0 {
		t.Fatalf("another node waits %s", wait)
	}
	if n := db.count["THROTTLE#node-cascades#ptn_a|WINDOW#1800000000"]; n != a.Max+1 {
		t.Fatalf("ptn_a's counter is %d, want %d (refused calls stay counted)", n, a.Max+1)
	}
	now = now.Add(20 * time.Minute)
	if wait, _ := c.Count(ctx, a, "ptn_a"); wait != 0 {
		t.Fatalf("the next window waits %s", wait)
	}
}

func TestNodeAllowances(t *testing.T) {
	names := map[string]bool{}
	for _, a := range NodeAllowances {
		if a.Name == "" || a.Max < 1 || a.Window < time.Second || a.Window%time.Second != 0 {
			t.Errorf("%+v: a name, a positive Max and a window of whole seconds are needed", a)
		}
		if names[a.Name] {
			t.Errorf("%s is listed twice", a.Name)
		}
		names[a.Name] = true
	}
	for _, a := range []api.Allowance{Invitations, Cascades, Signups} {
		if !names[a.Name] {
			t.Errorf("%s is missing from NodeAllowances (the sweeper would leave its counters)", a.Name)
		}
	}
}
