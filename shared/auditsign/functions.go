package auditsign

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
)

// EnvKeyID is the setting (template.yaml) that names the digests' KMS key.
const EnvKeyID = "AUDIT_DIGEST_KEY_ID"

// MakerFunction is the audit-digest-maker function: the schedule's handler.
func MakerFunction(d deps.Deps) function.ScheduleHandler {
	return (&Maker{Store: d.Store, KMS: kms.NewFromConfig(d.Config.AWS), KeyID: os.Getenv(EnvKeyID), Period: audit.DigestPeriodFromEnv()}).Handle
}

// PublicKeyFunction is the audit-public-key-get function's operation.
func PublicKeyFunction(d deps.Deps) api.Operation {
	p := &PublicKey{KeyID: os.Getenv(EnvKeyID), Callers: d.Callers}
	if d.Store != nil {
		// Built from zero Deps only to tell its route: no client then.
		p.KMS = kms.NewFromConfig(d.Config.AWS)
	}
	return p.Operation()
}
