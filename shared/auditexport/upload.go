package auditexport

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ObjectStore is the part of the S3 client the job uses.
type ObjectStore interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// DefaultPartSize is the size of an upload's parts: S3 wants at least 5 MiB for every
// part but the last, and the job holds one part in memory at a time.
const DefaultPartSize = 8 << 20

// upload is an io.Writer into one S3 object that holds at most about one part in
// memory: a file smaller than a part is one PutObject, a larger one a multipart
// upload whose parts leave as they fill. Close completes it; Abort drops what was
// uploaded (an aborted multipart upload leaves no object and no parts to pay for).
// Written by the SDK's feature/s3/manager before, which is deprecated; this is the
// small part of it the job needs.
type upload struct {
	ctx                      context.Context
	s3                       ObjectStore
	bucket, key, contentType string
	partSize                 int
	buf                      bytes.Buffer
	uploadID                 *string
	parts                    []s3types.CompletedPart
	err                      error
	written                  int64
}

func newUpload(ctx context.Context, st ObjectStore, bucket, key, contentType string, partSize int) *upload {
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	return &upload{ctx: ctx, s3: st, bucket: bucket, key: key, contentType: contentType, partSize: partSize}
}

// Write buffers p and sends a part once a part's worth is buffered.
func (u *upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	u.buf.Write(p)
	u.written += int64(len(p))
	if u.buf.Len() >= u.partSize {
		if err := u.sendPart(); err != nil {
			u.err = err
			return 0, err
		}
	}
	return len(p), nil
}

func (u *upload) sendPart() error {
	if u.uploadID == nil {
		out, err := u.s3.CreateMultipartUpload(u.ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(u.bucket), Key: aws.String(u.key), ContentType: aws.String(u.contentType),
		})
		if err != nil {
			return fmt.Errorf("create multipart upload: %w", err)
		}
		u.uploadID = out.UploadId
	}
	n := int32(len(u.parts) + 1)
	out, err := u.s3.UploadPart(u.ctx, &s3.UploadPartInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: u.uploadID,
		PartNumber: aws.Int32(n), Body: bytes.NewReader(u.buf.Bytes()), ContentLength: aws.Int64(int64(u.buf.Len())),
	})
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	u.parts = append(u.parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	u.buf.Reset()
	return nil
}

// Close writes what is buffered and makes the object.
func (u *upload) Close() error {
	if u.err != nil {
		return u.err
	}
	if u.uploadID == nil {
		_, err := u.s3.PutObject(u.ctx, &s3.PutObjectInput{
			Bucket: aws.String(u.bucket), Key: aws.String(u.key), ContentType: aws.String(u.contentType),
			Body: bytes.NewReader(u.buf.Bytes()), ContentLength: aws.Int64(int64(u.buf.Len())),
		})
		if err != nil {
			return fmt.Errorf("put object: %w", err)
		}
		return nil
	}
	if u.buf.Len() > 0 {
		if err := u.sendPart(); err != nil {
			return err
		}
	}
	_, err := u.s3.CompleteMultipartUpload(u.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: u.uploadID,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// Abort gives up the upload; ctx outlives the job's own (which may be the one that
// ran out).
func (u *upload) Abort(ctx context.Context) error {
	if u.uploadID == nil {
		return nil
	}
	_, err := u.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: u.uploadID,
	})
	return err
}
