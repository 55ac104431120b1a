package local

// SQS: the queues, with the attributes moto applies.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/infra/template"
)

// sqsAttributes are the AWS::SQS::Queue properties that are queue attributes of the
// same name.
var sqsAttributes = map[string]bool{
	"ContentBasedDeduplication": true, "DeduplicationScope": true, "DelaySeconds": true,
	"FifoQueue": true, "FifoThroughputLimit": true, "KmsDataKeyReusePeriodSeconds": true,
	"KmsMasterKeyId": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true,
	"ReceiveMessageWaitTimeSeconds": true, "RedriveAllowPolicy": true, "RedrivePolicy": true,
	"SqsManagedSseEnabled": true, "VisibilityTimeout": true,
}

func (b *bootstrapper) createQueue(ctx context.Context, r template.Resource, props map[string]any) error {
	name := b.physicalName(r.LogicalID)
	if n, ok := props["QueueName"].(string); ok && n != "" {
		name = n
	} else if props["FifoQueue"] == true {
		name += ".fifo"
	}
	attrs := map[string]string{}
	var skipped []string
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch {
		case k == "QueueName" || k == "Tags":
		case sqsAttributes[k]:
			s, err := attributeString(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			attrs[k] = s
		default:
			skipped = append(skipped, k)
		}
	}
	b.notApplied(r, skipped)
	in := &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs, Tags: cfnTags(props["Tags"])}
	out, err := b.sqs.CreateQueue(ctx, in)
	if err != nil {
		return err
	}
	ga, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return err
	}
	q := Queue{Name: name, URL: aws.ToString(out.QueueUrl), ARN: ga.Attributes["QueueArn"]}
	b.res.Queues[r.LogicalID] = q
	b.refs[r.LogicalID] = q.URL
	b.atts[r.LogicalID] = map[string]any{"Arn": q.ARN, "QueueName": q.Name, "QueueUrl": q.URL}
	return nil
}

// attributeString formats a property as an SQS attribute value: JSON for objects.
func attributeString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, int, int64, float64:
		return fmt.Sprint(x), nil
	case map[string]any, []any:
		raw, err := json.Marshal(x)
		return string(raw), err
	}
	return "", fmt.Errorf("unexpected %T", v)
}

// cfnTags turns CloudFormation's [{Key, Value}] into a map.
func cfnTags(v any) map[string]string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, t := range list {
		m := template.AsMap(t)
		k, _ := m["Key"].(string)
		val, _ := m["Value"].(string)
		if k != "" {
			out[k] = val
		}
	}
	return out
}
