package local

// DynamoDB: the table and its indexes, streams and TTL, as the template declares them.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"opsconsole/infra/template"
)

func (b *bootstrapper) createTable(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &dynamodb.CreateTableInput{}
	skipped, err := decodeProps(props, in, nil, "TableName", "StreamSpecification", "SSESpecification",
		"TimeToLiveSpecification", "PointInTimeRecoverySpecification")
	if err != nil {
		return err
	}
	name := b.physicalName(r.LogicalID)
	if n, ok := props["TableName"].(string); ok && n != "" {
		name = n
	}
	in.TableName = aws.String(name)
	if ss := template.AsMap(props["StreamSpecification"]); ss != nil {
		view, _ := ss["StreamViewType"].(string)
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(view)}
	}
	if sse := template.AsMap(props["SSESpecification"]); sse != nil {
		spec := &ddbtypes.SSESpecification{}
		if v, ok := sse["SSEEnabled"].(bool); ok {
			spec.Enabled = aws.Bool(v)
		}
		if v, ok := sse["SSEType"].(string); ok {
			spec.SSEType = ddbtypes.SSEType(v)
		}
		if v, ok := sse["KMSMasterKeyId"].(string); ok {
			spec.KMSMasterKeyId = aws.String(v)
		}
		in.SSESpecification = spec
	}
	b.notApplied(r, skipped)
	if _, err := b.ddb.CreateTable(ctx, in); err != nil {
		return err
	}
	var desc *ddbtypes.TableDescription
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := b.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err != nil {
			return err
		}
		if desc = out.Table; desc.TableStatus == ddbtypes.TableStatusActive {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("table %s is still %s", name, desc.TableStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ttl := template.AsMap(props["TimeToLiveSpecification"]); ttl != nil && ttl["Enabled"] == true {
		attr, _ := ttl["AttributeName"].(string)
		if _, err := b.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               in.TableName,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("time to live: %w", err)
		}
		b.log.Debug("DynamoDB Local records TTL but never expires items", "table", name)
	}
	if pitr := template.AsMap(props["PointInTimeRecoverySpecification"]); pitr != nil && pitr["PointInTimeRecoveryEnabled"] == true {
		_, err := b.ddb.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
			TableName:                        in.TableName,
			PointInTimeRecoverySpecification: &ddbtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
		})
		var ae smithy.APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.ErrorCode() == "UnknownOperationException":
			b.log.Debug("DynamoDB Local has no point-in-time recovery", "table", name)
		default:
			return fmt.Errorf("point-in-time recovery: %w", err)
		}
	}
	t := Table{Name: name, ARN: aws.ToString(desc.TableArn), StreamARN: aws.ToString(desc.LatestStreamArn)}
	b.res.Tables[r.LogicalID] = t
	if b.res.TableName == "" {
		b.res.TableName, b.res.TableARN, b.res.StreamARN = t.Name, t.ARN, t.StreamARN
	}
	b.refs[r.LogicalID] = name
	b.atts[r.LogicalID] = map[string]any{"Arn": t.ARN, "StreamArn": t.StreamARN}
	return nil
}
