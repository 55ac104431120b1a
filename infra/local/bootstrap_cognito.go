package local

// Cognito: the user pool and its app client.

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/infra/template"
)

func (b *bootstrapper) createUserPool(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &cip.CreateUserPoolInput{}
	// The MFA setting is applied after creation, as CloudFormation does: a pool is
	// created without MFA, then SetUserPoolMfaConfig turns on the EnabledMfas.
	skipped, err := decodeProps(props, in, map[string]string{"UserPoolName": "PoolName"},
		"MfaConfiguration", "EnabledMfas", "LambdaConfig")
	if err != nil {
		return err
	}
	if _, ok := props["LambdaConfig"]; ok {
		skipped = append(skipped, "LambdaConfig (moto never invokes Cognito triggers)")
	}
	b.notApplied(r, skipped)
	if aws.ToString(in.PoolName) == "" {
		in.PoolName = aws.String(b.physicalName(r.LogicalID))
	}
	out, err := b.cognito.CreateUserPool(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.UserPool.Id)
	if mfa, _ := props["MfaConfiguration"].(string); mfa != "" && mfa != "OFF" {
		set := &cip.SetUserPoolMfaConfigInput{UserPoolId: aws.String(id), MfaConfiguration: ciptypes.UserPoolMfaType(mfa)}
		for _, m := range template.AsSlice(props["EnabledMfas"]) {
			switch m {
			case "SOFTWARE_TOKEN_MFA":
				set.SoftwareTokenMfaConfiguration = &ciptypes.SoftwareTokenMfaConfigType{Enabled: true}
			case "SMS_MFA":
				set.SmsMfaConfiguration = &ciptypes.SmsMfaConfigType{SmsConfiguration: in.SmsConfiguration}
			case "EMAIL_OTP":
				set.EmailMfaConfiguration = &ciptypes.EmailMfaConfigType{}
			default:
				return fmt.Errorf("EnabledMfas: unknown %v", m)
			}
		}
		if _, err := b.cognito.SetUserPoolMfaConfig(ctx, set); err != nil {
			return fmt.Errorf("MFA configuration: %w", err)
		}
	}
	b.res.UserPools[r.LogicalID] = id
	arn := aws.ToString(out.UserPool.Arn)
	if b.res.UserPoolID == "" {
		b.res.UserPoolID, b.res.UserPoolARN = id, arn
	}
	provider := fmt.Sprintf("cognito-idp.%s.amazonaws.com/%s", Region, id)
	b.refs[r.LogicalID] = id
	b.atts[r.LogicalID] = map[string]any{"Arn": arn, "ProviderName": provider, "ProviderURL": "https://" + provider, "UserPoolId": id}
	return nil
}

func (b *bootstrapper) createUserPoolClient(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &cip.CreateUserPoolClientInput{}
	skipped, err := decodeProps(props, in, nil)
	if err != nil {
		return err
	}
	b.notApplied(r, skipped)
	if aws.ToString(in.ClientName) == "" {
		in.ClientName = aws.String(r.LogicalID)
	}
	out, err := b.cognito.CreateUserPoolClient(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.UserPoolClient.ClientId)
	b.res.UserPoolClients[r.LogicalID] = id
	// The console's client (UserPoolClient) when the template has it; otherwise the
	// first created. (The API clients' app client sorts before it.)
	if b.res.UserPoolClientID == "" || r.LogicalID == "UserPoolClient" {
		b.res.UserPoolClientID = id
	}
	b.refs[r.LogicalID] = id
	b.atts[r.LogicalID] = map[string]any{"ClientId": id, "Name": aws.ToString(out.UserPoolClient.ClientName)}
	if s := aws.ToString(out.UserPoolClient.ClientSecret); s != "" {
		b.atts[r.LogicalID]["ClientSecret"] = s
	}
	return nil
}
