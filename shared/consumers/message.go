package consumers

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// MaxMessageBytes is SQS's limit on a message, body and attributes together (1 MiB
// since August 2025; moto 5.2.5 enforces the same). A SendMessageBatch call has the
// same limit over all its entries.
const MaxMessageBytes = 1 << 20

// maxBody leaves room under MaxMessageBytes for the message attributes (OmittedAttr).
const maxBody = MaxMessageBytes - 1024

// OmittedAttr is the message attribute that marks a record sent without its images
// because, even projected, they were over maxBody: a stream record carries up to two
// 400 KB images, and DynamoDB JSON is larger than the item (type tags, base64). The
// consumer's adapter reads the item again instead (FromQueue).
const OmittedAttr = "images-omitted"

// Message is one record as a consumer's queue carries it: the body is the stream
// record's JSON as Lambda delivers it (events.DynamoDBEventRecord), its images
// projected to the consumer's Images.
type Message struct {
	Body string
	// Omitted is true when the images were dropped to fit (OmittedAttr).
	Omitted bool
	// GroupID and DeduplicationID are set for an ordered consumer's FIFO queue.
	GroupID, DeduplicationID string
}

// Encode is the message that sends r to c.
func (c Consumer) Encode(r events.DynamoDBEventRecord) (Message, error) {
	r.Change.NewImage = c.Images.project(r.Change.NewImage)
	r.Change.OldImage = c.Images.project(r.Change.OldImage)
	body, err := json.Marshal(r)
	if err != nil {
		return Message{}, fmt.Errorf("record %s: %w", r.EventID, err)
	}
	m := Message{}
	if len(body) > maxBody {
		r.Change.NewImage, r.Change.OldImage = nil, nil
		if body, err = json.Marshal(r); err != nil {
			return Message{}, fmt.Errorf("record %s: %w", r.EventID, err)
		}
		m.Omitted = true
	}
	m.Body = string(body)
	if c.Ordered {
		m.GroupID, m.DeduplicationID = GroupID(r), r.EventID
	}
	return m, nil
}

// Decode reads a message's body back into the stream record.
func Decode(body string) (events.DynamoDBEventRecord, error) {
	var r events.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, err
	}
	if r.Change.SequenceNumber == "" {
		return r, fmt.Errorf("not a stream record: no sequence number")
	}
	return r, nil
}

// QueueEvent is the SQS event Lambda would deliver from c's queue for the records of
// ev that c wants (message ids are the records' eventIDs): what tests hand a
// consumer's real handler, as they handed it the stream's event before the router.
func (c Consumer) QueueEvent(ev events.DynamoDBEvent) (events.SQSEvent, error) {
	var out events.SQSEvent
	for _, r := range ev.Records {
		if !c.Match(r) {
			continue
		}
		m, err := c.Encode(r)
		if err != nil {
			return out, err
		}
		msg := events.SQSMessage{MessageId: r.EventID, Body: m.Body, EventSource: "aws:sqs"}
		if m.Omitted {
			v := "true"
			msg.MessageAttributes = map[string]events.SQSMessageAttribute{OmittedAttr: {StringValue: &v, DataType: "String"}}
		}
		if m.GroupID != "" {
			msg.Attributes = map[string]string{"MessageGroupId": m.GroupID, "MessageDeduplicationId": m.DeduplicationID}
		}
		out.Records = append(out.Records, msg)
	}
	return out, nil
}
