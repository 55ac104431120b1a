package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"opsconsole/infra/iam"
	"opsconsole/infra/local"
	"opsconsole/shared/awscall"
)

// The IAM check (docs/robustness.md, "IAM matches the code"): while the suite runs,
// every AWS call of every function is recorded (shared/awscall, infra/iam); after
// it, each is held against that function's Policies in template.yaml, and every
// granted action no call used must be removed or kept below with its reason.

var iamRecorder = iam.NewRecorder(local.Region, local.AccountID)

// iamKeep are the grants the suite does not use (or uses only when a drawn fault
// falls on them) that stay, each with its reason: both are failure paths the suite
// cannot stage through the API at will.
var iamKeep = func() []iam.Keep {
	const (
		release = "releases the Idempotency-Key claim when the operation ends in a server error " +
			"(shared/idempotency.Wrap), so that the client may retry; only TestUnderInjectedFaults provokes " +
			"one, when its draw makes a create answer 503, so a run may or may not use it"
		undo = "deletes the Cognito account the invitation has just made when the invitation's " +
			"transaction then fails (the node deleted or the email taken in between: a race the " +
			"suite does not stage; shared/users/invite.go, step 2)"
	)
	var out []iam.Keep
	for _, f := range []string{"distributors-create", "partners-create", "organizations-create", "companies-create",
		"end-users-create", "users-invite", "end-users-invite", "client-services-create", "licenses-create"} {
		out = append(out, iam.Keep{Function: f, Action: "dynamodb:DeleteItem", Written: "!GetAtt Table.Arn", Reason: release, Sometimes: true})
	}
	for _, f := range []string{"users-invite", "end-users-invite", "organizations-approve", "first-admin"} {
		out = append(out, iam.Keep{Function: f, Action: "cognito-idp:AdminDeleteUser", Written: "!GetAtt UserPool.Arn", Reason: undo})
	}
	// Audit exports (shared/auditexport): S3 asks KMS for the bucket's SSE-KMS data
	// keys as the role that wrote the object or signed the link, so these grants are
	// used by S3 on the functions' behalf, never by a call the recorder sees. (The
	// presigned link itself is seen: presigning runs the GetObject request through
	// the SDK's stack, so the recorder holds it against s3:GetObject.)
	out = append(out,
		iam.Keep{Function: "audit-exports-get", Action: "kms:Decrypt", Reason: "S3 decrypts the SSE-KMS file for the presigned link with the signer's kms:Decrypt"},
		iam.Keep{Function: "audit-exporter", Action: "kms:GenerateDataKey", Reason: "S3 asks KMS for each object's SSE-KMS data key with the writer's permission"},
		iam.Keep{Function: "audit-exporter", Action: "s3:AbortMultipartUpload", Reason: "drops a multipart upload when its job fails or runs out of time after the upload began (auditexport.Job.Run); the suite stages neither"},
	)
	// A branch's own mail server (shared/smtpsettings.Router): every function that
	// emails a user decrypts its password when the recipient's organization or partner
	// has one. TestWhiteLabelMail sends the invitations, the resend, the reset code and
	// the end user's invitation through one; the signups the suite makes are in
	// branches without, so these three use the same Router's grant only in AWS.
	for _, f := range []string{"signup-create", "organizations-approve", "organizations-reject"} {
		out = append(out, iam.Keep{Function: f, Action: "kms:Decrypt", Reason: "decrypts the SMTP password of the applicant's branch server (smtpsettings.Router, exercised by users-invite in TestWhiteLabelMail); the suite's signups are in branches without one"})
	}
	return out
}()

// startIAMRecording installs the recorder before any function is built.
func startIAMRecording() { awscall.SetObserver(iamRecorder.Observe) }

// iamFunctionsEnv names the functions (comma-separated) a filtered run checks: with
// it set, the check runs after a -run of the tests that drive those functions, and
// holds only their calls against only their policies (their unused grants and keeps
// included), e.g. E2E_IAM_FUNCTIONS=node-sweeper go test ./infra/e2e -run TestAPIClient.
const iamFunctionsEnv = "E2E_IAM_FUNCTIONS"

// iamFunctions are the functions iamFunctionsEnv names; nil checks them all.
func iamFunctions() []string {
	var out []string
	for _, f := range strings.Split(os.Getenv(iamFunctionsEnv), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// iamCheckApplies: the unused grants mean something only after the whole suite
// (no -run or -skip filter) has passed, or, for the functions iamFunctionsEnv names,
// after the tests that drive them.
func iamCheckApplies() bool {
	if len(iamFunctions()) > 0 {
		return true
	}
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

// checkIAM holds the recorded calls against the template and writes the report to
// $TMPDIR/opsconsole-iam.txt; it fails on a denied call, an unused grant not kept,
// a stale keep, or a call it cannot map.
func checkIAM() error {
	awscall.SetObserver(nil)
	policies, err := iam.Compile(sys.Template, iam.LocalResolver(sys.Template, sys.Resources, nil))
	if err != nil {
		return err
	}
	recorded, keep := iamRecorder.Recorded(), iamKeep
	if only := iamFunctions(); len(only) > 0 {
		recorded, keep = slices.DeleteFunc(recorded, func(r iam.Recorded) bool { return !slices.Contains(only, r.Function) }),
			slices.DeleteFunc(slices.Clone(keep), func(k iam.Keep) bool { return !slices.Contains(only, k.Function) })
		for f := range policies {
			if !slices.Contains(only, f) {
				delete(policies, f)
			}
		}
	}
	rep := iam.Check(policies, recorded, keep)
	rep.Unattributed, rep.Errors = iamRecorder.Unattributed(), iamRecorder.Errors()
	out := rep.String()
	path := filepath.Join(os.TempDir(), "opsconsole-iam.txt")
	if err := os.WriteFile(path, []byte(out+"\n"+iam.Table(iamRecorder.Recorded())), 0o644); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("IAM does not match the code (report in %s):\n%s", path, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: %s", out)
	return nil
}
