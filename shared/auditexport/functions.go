package auditexport

import (
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
)

// The functions' settings (template.yaml): the job queue and the bucket.
const (
	EnvQueueURL = "EXPORT_QUEUE_URL"
	EnvBucket   = "EXPORT_BUCKET"
)

// CreateFunction is the audit-exports-create function's operation.
func CreateFunction(d deps.Deps) api.Operation {
	s := &Service{Store: d.Store, Callers: d.Callers, Queue: sqs.NewFromConfig(d.Config.AWS), QueueURL: os.Getenv(EnvQueueURL)}
	return s.Create()
}

// GetFunction is the audit-exports-get function's operation.
func GetFunction(d deps.Deps) api.Operation {
	s := &Service{Store: d.Store, Callers: d.Callers, Presign: s3.NewPresignClient(newS3(d.Config.AWS)), Bucket: os.Getenv(EnvBucket)}
	return s.Get()
}

// JobFunction is the audit-exporter function: the queue's consumer.
func JobFunction(d deps.Deps) function.SQSHandler {
	return (&Job{Store: d.Store, S3: newS3(d.Config.AWS), Bucket: os.Getenv(EnvBucket), Margin: 15 * time.Second, Period: audit.DigestPeriodFromEnv()}).Handle
}

// newS3 is the S3 client of cfg. With an endpoint override (an emulator such as moto
// on 127.0.0.1:<port>) it addresses buckets by path: a virtual-hosted name
// (<bucket>.127.0.0.1) resolves nowhere. In AWS, no override: virtual-hosted as usual.
func newS3(cfg aws.Config) *s3.Client {
	pathStyle := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
}
