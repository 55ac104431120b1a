package users

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// capture is a fake store.Client: it keeps the transaction it is sent and answers
// with err (nil for success). It is here to see the writes this package builds
// (store.Write keeps its SDK form to itself) without a table; the e2e suite runs the
// same writes against DynamoDB Local.
type capture struct {
	store.Client
	in  *dynamodb.TransactWriteItemsInput
	err error
}

func (c *capture) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.in = in
	return &dynamodb.TransactWriteItemsOutput{}, c.err
}

// sent is the SDK form of writes, as a transaction sends them.
func sent(t *testing.T, c *capture, writes ...store.Write) []types.TransactWriteItem {
	t.Helper()
	if err := (&store.Store{DB: c, Table: "tbl"}).Transact(context.Background(), writes...); err != nil {
		t.Fatal(err)
	}
	return c.in.TransactItems
}

// written names the attributes an update sets and removes.
func written(u *types.Update) (set, removed []string) {
	expr := *u.UpdateExpression
	sets, rems, _ := strings.Cut(strings.TrimPrefix(expr, "SET "), " REMOVE ")
	if strings.HasPrefix(expr, "REMOVE ") {
		sets, rems = "", strings.TrimPrefix(expr, "REMOVE ")
	}
	for _, part := range strings.Split(sets, ", ") {
		if n, _, ok := strings.Cut(part, " = "); ok {
			set = append(set, u.ExpressionAttributeNames[n])
		}
	}
	for _, n := range strings.Split(rems, ", ") {
		if n != "" {
			removed = append(removed, u.ExpressionAttributeNames[n])
		}
	}
	slices.Sort(set)
	return set, removed
}

func TestUpdateUser(t *testing.T) {
	before := user("u1", identity.StatusInvited, tree.RoleOrganizationAdmin)
	before.MFAEnrolled, before.ActivationHash = true, "h1"
	before.SetIndexKeys()

	t.Run("only what changed is written, so what other writers keep is never overwritten", func(t *testing.T) {
		after := before
		after.FirstName, after.Version = "Ada", before.Version+1
		upd, err := updateUser(before, after, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := sent(t, &capture{}, upd)[0].Update
		set, removed := written(u)
		if !slices.Equal(set, []string{"firstName", "version"}) || removed != nil {
			t.Fatalf("set %v, removed %v (%s)", set, removed, *u.UpdateExpression)
		}
	})
	t.Run("an attribute that is gone is removed", func(t *testing.T) {
		after := transitioned(before, identity.StatusActive, fixedNow)
		after.ActivationHash = ""
		upd, err := updateUser(before, after, nil)
		if err != nil {
			t.Fatal(err)
		}
		set, removed := written(sent(t, &capture{}, upd)[0].Update)
		if !slices.Equal(removed, []string{"activationHash"}) || !slices.Contains(set, "status") || !slices.Contains(set, "GSI2PK") || slices.Contains(set, "mfaEnrolled") {
			t.Fatalf("set %v, removed %v", set, removed)
		}
	})
	t.Run("it holds only on the version read, and on the extra condition", func(t *testing.T) {
		after := before
		after.LastName = "Lovelace"
		cond := expression.Name("status").Equal(expression.Value(identity.StatusInvited))
		upd, err := updateUser(before, after, &cond)
		if err != nil {
			t.Fatal(err)
		}
		u := sent(t, &capture{}, upd)[0].Update
		var names []string
		for _, n := range u.ExpressionAttributeNames {
			names = append(names, n)
		}
		if !strings.Contains(*u.ConditionExpression, "AND") || !slices.Contains(names, "version") || !slices.Contains(names, "status") {
			t.Fatalf("condition %q names %v", *u.ConditionExpression, names)
		}
	})
	t.Run("a failed condition is stale", func(t *testing.T) {
		after := before
		after.LastName = "Lovelace"
		upd, _ := updateUser(before, after, nil)
		c := &capture{err: &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: ptr("ConditionalCheckFailed")}}}}
		err := (&store.Store{DB: c, Table: "tbl"}).Transact(context.Background(), upd)
		var p *problem.Problem
		if !errors.As(err, &p) || p.Type != problem.Stale().Type {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAdminWrites(t *testing.T) {
	active := user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)
	gone := transitioned(active, identity.StatusDeactivated, fixedNow)
	t.Run("joining adds the user to the node's set", func(t *testing.T) {
		u := sent(t, &capture{}, adminWrites(&gone, &active)...)[0].Update
		if !strings.HasPrefix(*u.UpdateExpression, "ADD #ids") {
			t.Fatalf("update %q", *u.UpdateExpression)
		}
	})
	t.Run("leaving takes them out, refused for the last one with last-admin", func(t *testing.T) {
		w := adminWrites(&active, &gone)
		u := sent(t, &capture{}, w...)[0].Update
		if !strings.HasPrefix(*u.UpdateExpression, "DELETE #ids") || !strings.Contains(*u.ConditionExpression, "size(#ids) > :one") {
			t.Fatalf("update %q if %q", *u.UpdateExpression, *u.ConditionExpression)
		}
		c := &capture{err: &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: ptr("ConditionalCheckFailed")}}}}
		err := (&store.Store{DB: c, Table: "tbl"}).Transact(context.Background(), w...)
		var p *problem.Problem
		if !errors.As(err, &p) || p.Type != problem.LastAdmin().Type {
			t.Fatalf("err %v", err)
		}
	})
}
