package local

// S3: buckets in moto, with the template's encryption, lifecycle and public access
// block, so that what the functions meet locally is what the template declares.

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"opsconsole/infra/template"
)

func (b *bootstrapper) createBucket(ctx context.Context, r template.Resource, props map[string]any) error {
	// CloudFormation names a bucket <stack>-<logical id>-<suffix>, lower-cased: S3
	// refuses capitals.
	name := strings.ToLower(b.physicalName(r.LogicalID))
	if n, ok := props["BucketName"].(string); ok && n != "" {
		name = n
	}
	if _, err := b.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return err
	}
	var skipped []string
	for _, k := range sortedKeys(props) {
		var err error
		switch k {
		case "BucketName", "Tags":
		case "BucketEncryption":
			err = b.bucketEncryption(ctx, name, template.AsMap(props[k]))
		case "LifecycleConfiguration":
			err = b.bucketLifecycle(ctx, name, template.AsMap(props[k]))
		case "PublicAccessBlockConfiguration":
			m := template.AsMap(props[k])
			flag := func(n string) *bool { v, _ := m[n].(bool); return aws.Bool(v) }
			_, err = b.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(name),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls: flag("BlockPublicAcls"), BlockPublicPolicy: flag("BlockPublicPolicy"),
					IgnorePublicAcls: flag("IgnorePublicAcls"), RestrictPublicBuckets: flag("RestrictPublicBuckets"),
				}})
		default:
			skipped = append(skipped, k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	b.notApplied(r, skipped)
	bk := Bucket{Name: name, ARN: "arn:aws:s3:::" + name}
	b.res.Buckets[r.LogicalID] = bk
	b.refs[r.LogicalID] = name
	b.atts[r.LogicalID] = map[string]any{"Arn": bk.ARN, "DomainName": name + ".s3.amazonaws.com"}
	return nil
}

// bucketEncryption applies BucketEncryption.ServerSideEncryptionConfiguration.
func (b *bootstrapper) bucketEncryption(ctx context.Context, name string, enc map[string]any) error {
	var rules []s3types.ServerSideEncryptionRule
	for _, v := range template.AsSlice(enc["ServerSideEncryptionConfiguration"]) {
		m := template.AsMap(v)
		d := template.AsMap(m["ServerSideEncryptionByDefault"])
		alg, _ := d["SSEAlgorithm"].(string)
		rule := s3types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
			SSEAlgorithm: s3types.ServerSideEncryption(alg),
		}}
		if k, ok := d["KMSMasterKeyID"].(string); ok && k != "" {
			rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID = aws.String(k)
		}
		if bk, ok := m["BucketKeyEnabled"].(bool); ok {
			rule.BucketKeyEnabled = aws.Bool(bk)
		}
		rules = append(rules, rule)
	}
	_, err := b.s3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(name),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: rules}})
	return err
}

// bucketLifecycle applies LifecycleConfiguration.Rules: expiry in days and the abort
// of incomplete multipart uploads, what the template uses.
func (b *bootstrapper) bucketLifecycle(ctx context.Context, name string, lc map[string]any) error {
	var rules []s3types.LifecycleRule
	for i, v := range template.AsSlice(lc["Rules"]) {
		m := template.AsMap(v)
		id, _ := m["Id"].(string)
		if id == "" {
			id = fmt.Sprintf("rule-%d", i)
		}
		status, _ := m["Status"].(string)
		rule := s3types.LifecycleRule{ID: aws.String(id), Status: s3types.ExpirationStatus(status),
			Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String(stringOr(m["Prefix"]))}}
		if d, err := toInt32(m["ExpirationInDays"]); err == nil && d > 0 {
			rule.Expiration = &s3types.LifecycleExpiration{Days: aws.Int32(d)}
		}
		if a := template.AsMap(m["AbortIncompleteMultipartUpload"]); a != nil {
			if d, err := toInt32(a["DaysAfterInitiation"]); err == nil && d > 0 {
				rule.AbortIncompleteMultipartUpload = &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(d)}
			}
		}
		rules = append(rules, rule)
	}
	_, err := b.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(name),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: rules}})
	return err
}

func stringOr(v any) string { s, _ := v.(string); return s }

func toInt32(v any) (int32, error) {
	switch x := v.(type) {
	case int:
		return int32(x), nil
	case int64:
		return int32(x), nil
	case float64:
		return int32(x), nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
