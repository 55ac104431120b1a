// Package streams plays Lambda's event source mapping for a DynamoDB stream when
// running locally, against DynamoDB Local's real Streams API (DescribeStream,
// GetShardIterator, GetRecords): it follows the stream's shards, batches their
// records, filters them, invokes the function's real handler with the
// events.DynamoDBEvent Lambda would deliver, and applies Lambda's retry, bisection,
// partial-batch-response and on-failure semantics (see batch.go and filter.go).
//
// Where it knowingly differs from AWS:
//   - Checkpoints live in memory: a restarted Run starts again at StartingPosition
//     (locally DynamoDB Local usually restarts empty too).
//   - One poller per shard, no ParallelizationFactor, no tumbling windows, no
//     S3/SNS destinations (SQS only), no metrics.
//   - A handler that overruns its timeout counts as failed at the deadline, but its
//     goroutine cannot be killed; it runs to its end.
package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"opsconsole/shared/lambdas"
)

// Mapping is an event source mapping (a function's DynamoDB event in template.yaml).
type Mapping struct {
	Function  string // function name, for the function ARN and the logs
	StreamARN string // the table's stream (Table.StreamArn)

	BatchSize         int           // BatchSize; 0 means Lambda's default, 100
	MaxBatchingWindow time.Duration // MaximumBatchingWindowInSeconds; 0 invokes as soon as records arrive

	ReportBatchItemFailures bool // FunctionResponseTypes: [ReportBatchItemFailures]
	BisectOnError           bool // BisectBatchOnFunctionError

	// MaxRetryAttempts is MaximumRetryAttempts: retries of a failing batch before it is
	// sent to the on-failure destination. As in Lambda, 0 means no retry and a
	// negative value (Lambda's default, -1) means retry until the record expires.
	MaxRetryAttempts int
	// MaxRecordAge is MaximumRecordAgeInSeconds; 0 means no limit (Lambda's -1).
	MaxRecordAge time.Duration

	// OnFailureQueueURL is the SQS queue of DestinationConfig.OnFailure; empty means
	// records given up on are only logged.
	OnFailureQueueURL string

	// StartingPosition is TRIM_HORIZON (default) or LATEST. LATEST applies to the
	// shards open when Run starts; shards that appear later are read from their start.
	StartingPosition string

	// FilterPatterns are FilterCriteria.Filters[].Pattern, JSON strings (filter.go
	// lists the supported syntax).
	FilterPatterns []string

	// Timeout is the function's timeout; 0 means 10 s (the template's Globals).
	Timeout time.Duration
}

const (
	defaultBatchSize = 100
	defaultTimeout   = 10 * time.Second
	maxGetRecords    = 1000 // the GetRecords limit
	idlePoll         = 250 * time.Millisecond
)

// pollInterval (an idle shard's GetRecords pace) and discoveryInterval (how often
// DescribeStream looks for new shards) are variables so tests can shorten them.
var (
	pollInterval      = idlePoll
	discoveryInterval = time.Second
)

type streamsAPI interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

type sqsAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Run polls the mapping's stream and invokes handler until ctx is done, then returns
// nil. It returns an error at once for a bad mapping (no stream ARN, an unsupported
// filter pattern, an on-failure queue without an SQS client) and when the first
// DescribeStream says the stream does not exist; other API errors (DynamoDB Local
// not up yet) are logged and retried. A nil logger logs JSON to stderr.
func Run(ctx context.Context, streamsClient *dynamodbstreams.Client, sqsClient *sqs.Client, m Mapping, handler lambdas.StreamHandler, logger *slog.Logger) error {
	if streamsClient == nil {
		return errors.New("streams: nil DynamoDB Streams client")
	}
	var q sqsAPI
	if sqsClient != nil {
		q = sqsClient
	}
	return run(ctx, streamsClient, streamsClient.Options().Region, q, m, handler, logger)
}

func run(ctx context.Context, api streamsAPI, region string, q sqsAPI, m Mapping, handler lambdas.StreamHandler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if handler == nil {
		return errors.New("streams: nil handler")
	}
	if m.StreamARN == "" {
		return errors.New("streams: Mapping.StreamARN is empty")
	}
	if m.BatchSize <= 0 {
		m.BatchSize = defaultBatchSize
	}
	if m.BatchSize > 10000 {
		return fmt.Errorf("streams: BatchSize %d is over Lambda's maximum of 10000", m.BatchSize)
	}
	switch m.StartingPosition {
	case "":
		m.StartingPosition = string(types.ShardIteratorTypeTrimHorizon)
	case string(types.ShardIteratorTypeTrimHorizon), string(types.ShardIteratorTypeLatest):
	default:
		return fmt.Errorf("streams: StartingPosition %q: want TRIM_HORIZON or LATEST", m.StartingPosition)
	}
	if m.OnFailureQueueURL != "" && q == nil {
		return errors.New("streams: OnFailureQueueURL set but no SQS client")
	}
	filters, err := compileFilters(m.FilterPatterns)
	if err != nil {
		return fmt.Errorf("streams: %s: %w", m.Function, err)
	}
	arnRegion, account := arnParts(m.StreamARN)
	if region == "" {
		region = arnRegion
	}
	r := &runner{
		m:       m,
		api:     api,
		region:  region,
		filters: filters,
		logger:  logger.With("function", m.Function),
	}
	r.proc = &processor{
		m:           m,
		handler:     handler,
		functionARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, m.Function),
		logger:      r.logger,
		now:         time.Now,
	}
	if m.OnFailureQueueURL != "" {
		r.proc.onFailure = func(ctx context.Context, f failure) error {
			return sendFailure(ctx, q, m.OnFailureQueueURL, r.proc.failureRecord(f), r.logger)
		}
	}
	return r.run(ctx)
}

// arnParts returns the region and account of "arn:aws:dynamodb:REGION:ACCOUNT:table/...".
func arnParts(arn string) (region, account string) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) == 6 {
		return p[3], p[4]
	}
	return "", ""
}

type runner struct {
	m       Mapping
	api     streamsAPI
	region  string
	filters filterSet
	logger  *slog.Logger
	proc    *processor
}

type shardState struct {
	id   string
	done chan struct{} // closed when the shard has been read and processed to its end
}

// run discovers shards (again every second, for the children of shards that close)
// and starts one consumer per shard; a child waits for its parent to finish so the
// records of an item stay in order across a shard split.
func (r *runner) run(ctx context.Context) error {
	shards := map[string]*shardState{}
	var wg sync.WaitGroup
	defer wg.Wait()
	first := true
	r.logger.Info("stream mapping started", "stream_arn", r.m.StreamARN, "batch_size", r.m.BatchSize,
		"starting_position", r.m.StartingPosition, "filters", len(r.filters))
	for {
		list, err := r.describe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var notFound *types.ResourceNotFoundException
			if first && errors.As(err, &notFound) {
				// Like CreateEventSourceMapping for a stream that does not exist.
				return fmt.Errorf("streams: %s: stream %s not found: %w", r.m.Function, r.m.StreamARN, err)
			}
			r.logger.Warn("DescribeStream failed", "error", err.Error())
		}
		var fresh []types.Shard
		for _, s := range list {
			id := aws.ToString(s.ShardId)
			if id == "" || shards[id] != nil {
				continue
			}
			shards[id] = &shardState{id: id, done: make(chan struct{})}
			fresh = append(fresh, s)
		}
		for _, s := range fresh {
			st := shards[aws.ToString(s.ShardId)]
			parent := shards[aws.ToString(s.ParentShardId)] // nil if trimmed away or none
			closed := s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			start := types.ShardIteratorTypeTrimHorizon
			if first && r.m.StartingPosition == string(types.ShardIteratorTypeLatest) {
				if closed {
					close(st.done) // LATEST: nothing to read in a shard closed before we started
					continue
				}
				start = types.ShardIteratorTypeLatest
				parent = nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(st.done)
				if parent != nil {
					select {
					case <-parent.done:
					case <-ctx.Done():
						return
					}
				}
				r.consume(ctx, st.id, start)
			}()
		}
		if err == nil {
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(discoveryInterval):
		}
	}
}

func (r *runner) describe(ctx context.Context) ([]types.Shard, error) {
	var out []types.Shard
	var start *string
	for {
		resp, err := r.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn:             aws.String(r.m.StreamARN),
			ExclusiveStartShardId: start,
		})
		if err != nil {
			return out, err
		}
		if resp.StreamDescription == nil {
			return out, nil
		}
		out = append(out, resp.StreamDescription.Shards...)
		start = resp.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return out, nil
		}
	}
}

// consume reads one shard to its end (or until ctx is done), batching records as
// Lambda does: a batch is invoked when it holds BatchSize records, when
// MaxBatchingWindow has passed since its first record arrived (at once with no
// window), or when the shard has no more records.
func (r *runner) consume(ctx context.Context, shardID string, start types.ShardIteratorType) {
	log := r.logger.With("shard", shardID)
	log.Debug("shard consumer started", "position", string(start))
	lastSeq := ""
	iter, err := r.iterator(ctx, shardID, start, lastSeq)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("GetShardIterator failed; shard skipped", "error", err.Error())
		}
		return
	}
	var pending []*record
	var windowStart time.Time
	limit := int32(min(maxGetRecords, max(r.m.BatchSize, 100)))
	for {
		if ctx.Err() != nil {
			return
		}
		got := 0
		if iter != "" && len(pending) < r.m.BatchSize {
			resp, err := r.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(limit)})
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				var expired *types.ExpiredIteratorException
				var trimmed *types.TrimmedDataAccessException
				var gone *types.ResourceNotFoundException
				switch {
				case errors.As(err, &expired):
					// Iterators live 15 minutes; pick up after the last record read.
				case errors.As(err, &trimmed):
					log.Warn("records trimmed before they were read; resuming at TRIM_HORIZON", "error", err.Error())
					lastSeq, start = "", types.ShardIteratorTypeTrimHorizon
				case errors.As(err, &gone):
					log.Warn("shard or stream gone", "error", err.Error())
					return
				default:
					log.Warn("GetRecords failed", "error", err.Error())
					sleep(ctx, time.Second)
				}
				if it, err := r.iterator(ctx, shardID, start, lastSeq); err == nil {
					iter = it
				} else if ctx.Err() == nil {
					// Keep the old iterator: the next GetRecords fails over to here again.
					log.Error("GetShardIterator failed", "error", err.Error())
					sleep(ctx, time.Second)
				}
				continue
			}
			iter = aws.ToString(resp.NextShardIterator) // "" once a closed shard is drained
			got = len(resp.Records)
			for _, rec := range resp.Records {
				cr, err := convertRecord(rec, r.region, r.m.StreamARN)
				if err != nil {
					log.Error("unreadable stream record skipped", "error", err.Error())
					continue
				}
				lastSeq = cr.seq
				if !r.filters.match(cr.raw) {
					log.Debug("record filtered out", "sequence_number", cr.seq)
					continue
				}
				if len(pending) == 0 {
					windowStart = time.Now()
				}
				pending = append(pending, cr)
			}
		}

		if len(pending) > 0 {
			full := len(pending) >= r.m.BatchSize
			windowOver := time.Since(windowStart) >= r.m.MaxBatchingWindow
			if full || windowOver || iter == "" {
				n := min(len(pending), r.m.BatchSize)
				if err := r.proc.process(ctx, shardID, pending[:n]); err != nil {
					return
				}
				pending = pending[n:]
				if len(pending) > 0 {
					windowStart = time.Now()
				}
				continue
			}
		}
		if iter == "" && len(pending) == 0 {
			log.Info("shard finished")
			return
		}
		if got == 0 {
			wait := pollInterval
			if len(pending) > 0 {
				wait = min(wait, r.m.MaxBatchingWindow-time.Since(windowStart))
			}
			sleep(ctx, max(wait, 10*time.Millisecond))
		}
	}
}

func (r *runner) iterator(ctx context.Context, shardID string, start types.ShardIteratorType, afterSeq string) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(r.m.StreamARN),
		ShardId:           aws.String(shardID),
		ShardIteratorType: start,
	}
	if afterSeq != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(afterSeq)
	}
	resp, err := r.api.GetShardIterator(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(resp.ShardIterator), nil
}

// sendFailure puts the invocation record on the on-failure queue. It keeps trying
// (with a growing pause, logging each failure) until it succeeds or ctx is done:
// records are never dropped without a trace.
func sendFailure(ctx context.Context, q sqsAPI, queueURL string, rec onFailureRecord, logger *slog.Logger) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		_, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(body))})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logger.Error("sending to the on-failure queue failed; retrying", "queue_url", queueURL, "attempt", attempt,
			"error", err.Error(), "invocation_record", string(body))
		sleep(ctx, min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
