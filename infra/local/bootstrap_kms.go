package local

// KMS: the keys and aliases.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"opsconsole/infra/template"
)

func (b *bootstrapper) createKey(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &kms.CreateKeyInput{}
	var skipped []string
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch k {
		case "Description":
			in.Description = aws.String(fmt.Sprint(v))
		case "KeySpec":
			in.KeySpec = kmstypes.KeySpec(fmt.Sprint(v))
		case "KeyUsage":
			in.KeyUsage = kmstypes.KeyUsageType(fmt.Sprint(v))
		case "MultiRegion":
			in.MultiRegion = aws.Bool(v == true)
		case "Origin":
			in.Origin = kmstypes.OriginType(fmt.Sprint(v))
		case "KeyPolicy":
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			in.Policy = aws.String(string(raw))
		case "Tags":
			for key, val := range cfnTags(v) {
				in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(key), TagValue: aws.String(val)})
			}
		case "EnableKeyRotation", "RotationPeriodInDays", "Enabled":
		default:
			skipped = append(skipped, k)
		}
	}
	b.notApplied(r, skipped)
	out, err := b.kms.CreateKey(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	if props["EnableKeyRotation"] == true {
		rot := &kms.EnableKeyRotationInput{KeyId: aws.String(id)}
		if n, ok := props["RotationPeriodInDays"].(int); ok {
			rot.RotationPeriodInDays = aws.Int32(int32(n))
		}
		if _, err := b.kms.EnableKeyRotation(ctx, rot); err != nil {
			return fmt.Errorf("key rotation: %w", err)
		}
	}
	if props["Enabled"] == false {
		if _, err := b.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
			return err
		}
	}
	k := Key{ID: id, ARN: aws.ToString(out.KeyMetadata.Arn)}
	b.res.KMSKeys[r.LogicalID] = k
	if b.res.KMSKeyID == "" {
		b.res.KMSKeyID, b.res.KMSKeyARN = k.ID, k.ARN
	}
	b.refs[r.LogicalID] = k.ID
	b.atts[r.LogicalID] = map[string]any{"Arn": k.ARN, "KeyId": k.ID}
	return nil
}

func (b *bootstrapper) createAlias(ctx context.Context, r template.Resource, props map[string]any) error {
	name, _ := props["AliasName"].(string)
	target, _ := props["TargetKeyId"].(string)
	if name == "" || target == "" {
		return errors.New("AliasName and TargetKeyId are required")
	}
	if _, err := b.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)}); err != nil {
		return err
	}
	b.res.KMSAliases[r.LogicalID] = name
	b.refs[r.LogicalID] = name
	return nil
}
