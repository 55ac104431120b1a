package apiclients

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
)

// fakeTable answers GetItem with item (nil: no such item) or err; the store's other
// calls are not made by dropUser.
type fakeTable struct {
	store.Client
	item  store.Item
	err   error
	reads int
}

func (f *fakeTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.reads++
	return &dynamodb.GetItemOutput{Item: f.item}, f.err
}

// fakeCognito records the users deleted.
type fakeCognito struct {
	Cognito
	deleted []string
}

func (f *fakeCognito) AdminDeleteUser(_ context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	f.deleted = append(f.deleted, *in.Username)
	return &cip.AdminDeleteUserOutput{}, nil
}

// TestDropUser: a failed create's Cognito user is deleted when the write surely wrote
// nothing, and kept when the client may exist after all. The e2e test
// TestAPIClientCreateFailureLeavesNoCognitoUser reaches the refused transaction for
// real; the ambiguous failures here (a write that timed out, perhaps after it
// committed; a read-back that fails) cannot be produced at will by DynamoDB Local,
// so they are injected through a fake table.
func TestDropUser(t *testing.T) {
	const user, id = "u@api-clients.invalid", "cli_0123456789abcdef0123456789abcdef"
	timeout := errors.New("transact write: operation timeout")
	exists := store.Item{"PK": &types.AttributeValueMemberS{Value: "APICLIENT#" + id}}
	for _, tc := range []struct {
		name    string
		id      string
		err     error
		table   fakeTable
		reads   int
		deleted bool
	}{
		{"a failed condition: deleted, nothing read", id, problem.NotFound("partner"), fakeTable{}, 0, true},
		{"a cancelled transaction: deleted, nothing read", id, &types.TransactionCanceledException{}, fakeTable{}, 0, true},
		{"no client id yet (no sub, or the password not set): deleted", "", timeout, fakeTable{}, 0, true},
		{"an ambiguous failure, the client absent: deleted", id, timeout, fakeTable{}, 1, true},
		{"an ambiguous failure, the client written after all: kept", id, timeout, fakeTable{item: exists}, 1, false},
		{"an ambiguous failure, the client unreadable: kept", id, timeout, fakeTable{err: errors.New("read failed")}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cog := &fakeCognito{}
			s := &Service{Store: &store.Store{DB: &tc.table, Table: "t"}, Cognito: cog, PoolID: "pool"}
			s.dropUser(api.WithLogger(context.Background(), slog.New(slog.DiscardHandler)), user, tc.id, tc.err)
			if tc.table.reads != tc.reads {
				t.Errorf("%d reads, want %d", tc.table.reads, tc.reads)
			}
			if got := len(cog.deleted) == 1 && cog.deleted[0] == user; got != tc.deleted || len(cog.deleted) > 1 {
				t.Errorf("deleted %v, want deleted %v", cog.deleted, tc.deleted)
			}
		})
	}
}
