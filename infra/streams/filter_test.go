package streams

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// A MODIFY of a change record, as the filters see it.
const sampleRecord = `{
  "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
  "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024",
  "dynamodb": {
    "ApproximateCreationDateTime": 1700000000,
    "Keys": {"PK": {"S": "ORG#7"}, "SK": {"S": "CHANGE#01H"}},
    "NewImage": {"PK": {"S": "ORG#7"}, "type": {"S": "change"}, "version": {"N": "3"}, "tags": {"SS": ["a", "b"]},
                 "active": {"BOOL": true}, "gone": {"NULL": true}},
    "OldImage": {"type": {"S": "change"}, "version": {"N": "2"}},
    "SequenceNumber": "111", "SizeBytes": 59, "StreamViewType": "NEW_AND_OLD_IMAGES"
  }
}`

func TestFilterPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		want     bool
	}{
		{"no patterns let everything through", nil, true},
		{"the template's pattern drops a MODIFY", []string{`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["change"]}}}}`}, false},
		{"the tree counter's pattern drops an item whose SK is not NODE", []string{`{"dynamodb": {"Keys": {"SK": {"S": ["NODE"]}}}}`}, false},
		{"a Keys.SK pattern matches the record's sort key exactly", []string{`{"dynamodb": {"Keys": {"SK": {"S": ["CHANGE#01H"]}}}}`}, true},
		{"exact string on eventName", []string{`{"eventName": ["MODIFY"]}`}, true},
		{"one of several values", []string{`{"eventName": ["INSERT", "MODIFY"]}`}, true},
		{"nested exact match", []string{`{"dynamodb": {"NewImage": {"type": {"S": ["change"]}}}}`}, true},
		{"nested mismatch", []string{`{"dynamodb": {"NewImage": {"type": {"S": ["entity"]}}}}`}, false},
		{"all keys must match", []string{`{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"type": {"S": ["entity"]}}}}`}, false},
		{"any pattern may match", []string{`{"eventName": ["REMOVE"]}`, `{"eventName": ["MODIFY"]}`}, true},
		{"N values are strings", []string{`{"dynamodb": {"NewImage": {"version": {"N": ["3"]}}}}`}, true},
		{"a number does not equal a string", []string{`{"dynamodb": {"NewImage": {"version": {"N": [3]}}}}`}, false},
		{"numeric numbers", []string{`{"dynamodb": {"SizeBytes": [59]}}`}, true},
		{"numeric range on an N string", []string{`{"dynamodb": {"NewImage": {"version": {"N": [{"numeric": [">", 2, "<=", 3]}]}}}}`}, true},
		{"numeric range not met", []string{`{"dynamodb": {"NewImage": {"version": {"N": [{"numeric": [">", 3]}]}}}}`}, false},
		{"prefix", []string{`{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "CHANGE#"}]}}}}`}, true},
		{"prefix mismatch", []string{`{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "USER#"}]}}}}`}, false},
		{"suffix", []string{`{"dynamodb": {"Keys": {"PK": {"S": [{"suffix": "#7"}]}}}}`}, true},
		{"equals-ignore-case", []string{`{"eventName": [{"equals-ignore-case": "modify"}]}`}, true},
		{"anything-but a value", []string{`{"eventName": [{"anything-but": "REMOVE"}]}`}, true},
		{"anything-but a list containing it", []string{`{"eventName": [{"anything-but": ["MODIFY", "REMOVE"]}]}`}, false},
		{"anything-but a prefix", []string{`{"dynamodb": {"Keys": {"SK": {"S": [{"anything-but": {"prefix": "CHANGE#"}}]}}}}`}, false},
		{"exists true", []string{`{"dynamodb": {"OldImage": {"version": {"N": [{"exists": true}]}}}}`}, true},
		{"exists false on a present field", []string{`{"dynamodb": {"OldImage": [{"exists": false}]}}`}, false},
		{"exists false on a missing field", []string{`{"dynamodb": {"NewImage": {"deletedAt": [{"exists": false}]}}}`}, true},
		{"a missing field does not match a value", []string{`{"dynamodb": {"NewImage": {"deletedAt": {"S": ["x"]}}}}`}, false},
		{"array fields match on any element", []string{`{"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}`}, true},
		{"booleans", []string{`{"dynamodb": {"NewImage": {"active": {"BOOL": [true]}}}}`}, true},
		{"null", []string{`{"dynamodb": {"NewImage": {"gone": {"NULL": [true]}}}}`}, true},
		{"a pattern object against a string does not match", []string{`{"eventName": {"x": ["y"]}}`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := compileFilters(tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := fs.match(json.RawMessage(sampleRecord)); got != tc.want {
				t.Fatalf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnsupportedFilterSyntaxIsRefused(t *testing.T) {
	for _, p := range []string{
		`{"$or": [{"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}]}`,
		`{"eventName": [{"wildcard": "IN*"}]}`,
		`{"awsRegion": [{"cidr": "10.0.0.0/24"}]}`,
		`{"eventName": [{"prefix": "IN", "suffix": "RT"}]}`,
		`{"eventName": "INSERT"}`,
		`{"eventName": []}`,
		`{}`,
		`{"dynamodb": {"SizeBytes": [{"numeric": ["!=", 3]}]}}`,
		`{"eventName": [{"anything-but": {"suffix": "X"}}]}`,
		`["INSERT"]`,
	} {
		t.Run(p, func(t *testing.T) {
			if _, err := compileFilters([]string{p}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRecordsConvertToLambdasDynamoDBEvent(t *testing.T) {
	created := time.Unix(1700000000, 0)
	in := types.Record{
		EventID:      aws.String("c81e728d9d4c2f636f067f89cc14862c"),
		EventName:    types.OperationTypeModify,
		EventVersion: aws.String("1.0"),
		AwsRegion:    aws.String("ddblocal"),
		UserIdentity: &types.Identity{PrincipalId: aws.String("dynamodb.amazonaws.com"), Type: aws.String("Service")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: aws.Time(created),
			Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "A"}},
			NewImage: map[string]types.AttributeValue{
				"s":    &types.AttributeValueMemberS{Value: "x"},
				"n":    &types.AttributeValueMemberN{Value: "1.5"},
				"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
				"bool": &types.AttributeValueMemberBOOL{Value: true},
				"null": &types.AttributeValueMemberNULL{Value: true},
				"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
				"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
				"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{9}}},
				"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "i"}, &types.AttributeValueMemberN{Value: "2"}}},
				"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
			},
			OldImage:       map[string]types.AttributeValue{"s": &types.AttributeValueMemberS{Value: "old"}},
			SequenceNumber: aws.String("000000000000000000042"),
			SizeBytes:      aws.Int64(123),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
	rec, err := convertRecord(in, "us-east-1", "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := eventFor([]*record{rec})
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Records[0]
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("eventID", r.EventID, "c81e728d9d4c2f636f067f89cc14862c")
	check("eventName", r.EventName, "MODIFY")
	check("eventVersion", r.EventVersion, "1.1")
	check("eventSource", r.EventSource, "aws:dynamodb")
	check("awsRegion", r.AWSRegion, "us-east-1")
	check("eventSourceARN", r.EventSourceArn, "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024")
	check("userIdentity", r.UserIdentity, &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"})
	d := r.Change
	check("ApproximateCreationDateTime", d.ApproximateCreationDateTime.Unix(), int64(1700000000))
	check("SequenceNumber", d.SequenceNumber, "000000000000000000042")
	check("SizeBytes", d.SizeBytes, int64(123))
	check("StreamViewType", d.StreamViewType, "NEW_AND_OLD_IMAGES")
	check("Keys", d.Keys["PK"].String(), "A")
	check("OldImage", d.OldImage["s"].String(), "old")
	img := d.NewImage
	check("S", img["s"].String(), "x")
	check("N", img["n"].Number(), "1.5")
	check("B", img["b"].Binary(), []byte{0, 1, 2})
	check("BOOL", img["bool"].Boolean(), true)
	check("NULL", img["null"].IsNull(), true)
	check("SS", img["ss"].StringSet(), []string{"a", "b"})
	check("NS", img["ns"].NumberSet(), []string{"1", "2"})
	check("BS", img["bs"].BinarySet(), [][]byte{{9}})
	check("L", []string{img["l"].List()[0].String(), img["l"].List()[1].Number()}, []string{"i", "2"})
	check("M", img["m"].Map()["k"].String(), "v")

	// The raw JSON is Lambda's wire form: binary as base64, creation time in seconds.
	var wire map[string]any
	_ = json.Unmarshal(rec.raw, &wire)
	dyn := wire["dynamodb"].(map[string]any)
	check("wire B", dyn["NewImage"].(map[string]any)["b"], map[string]any{"B": base64.StdEncoding.EncodeToString([]byte{0, 1, 2})})
	check("wire ApproximateCreationDateTime", dyn["ApproximateCreationDateTime"], float64(1700000000))
}
