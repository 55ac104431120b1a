package streams

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStream is an in-memory DynamoDB Streams API whose shards can be closed and
// split while a mapping runs — what DynamoDB Local does not let a test provoke.
type fakeStream struct {
	mu     sync.Mutex
	shards []*fakeShard
	seq    int
}

type fakeShard struct {
	id, parent string
	records    []types.Record
	closed     bool
}

func (f *fakeStream) addShard(id, parent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards = append(f.shards, &fakeShard{id: id, parent: parent})
}

func (f *fakeStream) write(shardID, pk string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	for _, s := range f.shards {
		if s.id == shardID {
			s.records = append(s.records, types.Record{
				EventID:   aws.String(fmt.Sprint("e", f.seq)),
				EventName: types.OperationTypeInsert,
				Dynamodb: &types.StreamRecord{
					ApproximateCreationDateTime: aws.Time(time.Now()),
					Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}},
					SequenceNumber:              aws.String(fmt.Sprintf("%021d", f.seq)),
					SizeBytes:                   aws.Int64(10),
					StreamViewType:              types.StreamViewTypeKeysOnly,
				},
			})
		}
	}
}

func (f *fakeStream) close(shardID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shards {
		if s.id == shardID {
			s.closed = true
		}
	}
}

func (f *fakeStream) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (f *fakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []types.Shard
	for _, s := range f.shards {
		sh := types.Shard{ShardId: aws.String(s.id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0")}}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
		}
		out = append(out, sh)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{Shards: out, StreamArn: in.StreamArn}}, nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(aws.ToString(in.ShardId))
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeLatest:
		pos = len(s.records)
	case types.ShardIteratorTypeAfterSequenceNumber:
		for i, r := range s.records {
			if *r.Dynamodb.SequenceNumber == aws.ToString(in.SequenceNumber) {
				pos = i + 1
			}
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d", s.id, pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "|")
	pos, _ := strconv.Atoi(p)
	s := f.shard(id)
	end := min(len(s.records), pos+int(aws.ToInt32(in.Limit)))
	out := &dynamodbstreams.GetRecordsOutput{Records: s.records[pos:end]}
	if !(s.closed && end == len(s.records)) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d", id, end))
	}
	return out, nil
}

type orderedLog struct {
	mu  sync.Mutex
	ids []string
}

func (o *orderedLog) add(ev events.DynamoDBEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range ev.Records {
		o.ids = append(o.ids, r.Change.Keys["PK"].String())
	}
}

func (o *orderedLog) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ids...)
}

func runFake(t *testing.T, f *fakeStream, m Mapping, h func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) {
	t.Helper()
	oldPoll, oldDisc := pollInterval, discoveryInterval
	pollInterval, discoveryInterval = 10*time.Millisecond, 30*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	m.StreamARN = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024"
	go func() { done <- run(ctx, f, "us-east-1", nil, m, h, slog.New(slog.NewJSONHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		pollInterval, discoveryInterval = oldPoll, oldDisc
	})
}

func TestShardsAreFollowedParentBeforeChild(t *testing.T) {
	f := &fakeStream{}
	f.addShard("shard-parent", "")
	f.addShard("shard-child", "shard-parent")
	for i := range 5 {
		f.write("shard-parent", fmt.Sprint("p", i))
		f.write("shard-child", fmt.Sprint("c", i))
	}
	f.close("shard-parent")
	log := &orderedLog{}
	runFake(t, f, Mapping{Function: "fn", BatchSize: 1}, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if strings.HasPrefix(ev.Records[0].Change.Keys["PK"].String(), "p") {
			time.Sleep(20 * time.Millisecond) // a slow parent must still come first
		}
		log.add(ev)
		return events.DynamoDBEventResponse{}, nil
	})
	eventually(t, "both shards are read", func() bool { return len(log.get()) == 10 })
	if got := strings.Join(log.get(), " "); got != "p0 p1 p2 p3 p4 c0 c1 c2 c3 c4" {
		t.Fatalf("order %s", got)
	}

	t.Run("a child shard that appears later is found and read after its parent", func(t *testing.T) {
		f.write("shard-child", "c5")
		f.addShard("shard-grandchild", "shard-child")
		f.write("shard-grandchild", "g0")
		time.Sleep(100 * time.Millisecond) // the grandchild is known but waits for its open parent
		if strings.Contains(strings.Join(log.get(), " "), "g0") {
			t.Fatal("the grandchild was read before its parent closed")
		}
		f.close("shard-child")
		eventually(t, "the grandchild is read", func() bool { return len(log.get()) == 12 })
		if got := strings.Join(log.get()[10:], " "); got != "c5 g0" {
			t.Fatalf("order %s", got)
		}
	})
}

func TestBatchingWindowFillsBatches(t *testing.T) {
	f := &fakeStream{}
	f.addShard("s", "")
	var mu sync.Mutex
	var sizes []int
	runFake(t, f, Mapping{Function: "fn", BatchSize: 3, MaxBatchingWindow: 300 * time.Millisecond},
		func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			mu.Lock()
			sizes = append(sizes, len(ev.Records))
			mu.Unlock()
			return events.DynamoDBEventResponse{}, nil
		})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	f.write("s", "a")
	time.Sleep(60 * time.Millisecond)
	f.write("s", "b")
	eventually(t, "a batch is invoked", func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) > 0 })
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("invoked after %s, before the 300ms window ran out", d)
	}
	for range 3 {
		f.write("s", "x")
	}
	eventually(t, "a full batch is invoked", func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) > 1 })
	mu.Lock()
	defer mu.Unlock()
	if sizes[0] != 2 || sizes[1] != 3 {
		t.Fatalf("batch sizes %v, want [2 3]", sizes)
	}
}
