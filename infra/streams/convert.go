package streams

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// record is one stream record as Lambda delivers it.
type record struct {
	seq     string
	created time.Time       // ApproximateCreationDateTime (its age is what MaxRecordAge limits)
	raw     json.RawMessage // the record's JSON in the event (an element of "Records")
}

// The JSON shapes of a DynamoDB stream record in a Lambda event. The DynamoDB part is
// DynamoDB JSON ({"S": "..."}, {"N": "1"}, {"B": "<base64>"}, ...), the wire form of
// the Streams API itself, which is what aws-lambda-go's events types decode.
type wireRecord struct {
	EventID        string           `json:"eventID"`
	EventName      string           `json:"eventName"`
	EventVersion   string           `json:"eventVersion"`
	EventSource    string           `json:"eventSource"`
	AWSRegion      string           `json:"awsRegion"`
	Dynamodb       wireStreamRecord `json:"dynamodb"`
	EventSourceARN string           `json:"eventSourceARN"`
	UserIdentity   *wireIdentity    `json:"userIdentity,omitempty"`
}

type wireStreamRecord struct {
	ApproximateCreationDateTime *int64         `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber"`
	SizeBytes                   int64          `json:"SizeBytes"`
	StreamViewType              string         `json:"StreamViewType"`
}

type wireIdentity struct {
	PrincipalID string `json:"principalId"`
	Type        string `json:"type"`
}

// convertRecord turns a GetRecords record into the record Lambda puts in the event:
// eventSource "aws:dynamodb", eventVersion "1.1", eventSourceARN the stream ARN the
// mapping was created with, awsRegion the stream's region, and the dynamodb part with
// ApproximateCreationDateTime in epoch seconds.
func convertRecord(rec types.Record, region, streamARN string) (*record, error) {
	if rec.Dynamodb == nil || rec.Dynamodb.SequenceNumber == nil {
		return nil, fmt.Errorf("stream record %s has no sequence number", deref(rec.EventID))
	}
	d := rec.Dynamodb
	w := wireRecord{
		EventID:        deref(rec.EventID),
		EventName:      string(rec.EventName),
		EventVersion:   "1.1",
		EventSource:    "aws:dynamodb",
		AWSRegion:      region,
		EventSourceARN: streamARN,
		Dynamodb: wireStreamRecord{
			SequenceNumber: *d.SequenceNumber,
			StreamViewType: string(d.StreamViewType),
		},
	}
	if d.SizeBytes != nil {
		w.Dynamodb.SizeBytes = *d.SizeBytes
	}
	var created time.Time
	if d.ApproximateCreationDateTime != nil {
		created = *d.ApproximateCreationDateTime
		s := created.Unix()
		w.Dynamodb.ApproximateCreationDateTime = &s
	}
	var err error
	if w.Dynamodb.Keys, err = itemJSON(d.Keys); err != nil {
		return nil, err
	}
	if w.Dynamodb.NewImage, err = itemJSON(d.NewImage); err != nil {
		return nil, err
	}
	if w.Dynamodb.OldImage, err = itemJSON(d.OldImage); err != nil {
		return nil, err
	}
	if rec.UserIdentity != nil {
		w.UserIdentity = &wireIdentity{PrincipalID: deref(rec.UserIdentity.PrincipalId), Type: deref(rec.UserIdentity.Type)}
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return &record{seq: *d.SequenceNumber, created: created, raw: raw}, nil
}

func itemJSON(item map[string]types.AttributeValue) (map[string]any, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]any, len(item))
	for k, v := range item {
		j, err := attributeJSON(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = j
	}
	return out, nil
}

// attributeJSON renders one attribute value as DynamoDB JSON. Binary values become
// base64 through encoding/json's []byte handling.
func attributeJSON(av types.AttributeValue) (any, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}, nil
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": v.Value}, nil
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}, nil
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberBS:
		if v.Value == nil {
			return map[string]any{"BS": [][]byte{}}, nil
		}
		return map[string]any{"BS": v.Value}, nil
	case *types.AttributeValueMemberL:
		l := make([]any, 0, len(v.Value))
		for i, e := range v.Value {
			j, err := attributeJSON(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l = append(l, j)
		}
		return map[string]any{"L": l}, nil
	case *types.AttributeValueMemberM:
		m, err := itemJSON(v.Value)
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		return map[string]any{"M": m}, nil
	default:
		return nil, fmt.Errorf("unsupported attribute value %T", av)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
