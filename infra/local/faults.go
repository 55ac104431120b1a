package local

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Faults configure the DynamoDB faults the local proxy injects (see faultInjector).
// The zero value injects none.
type Faults struct {
	// Rate is the share of data-plane DynamoDB requests (0 to 1) answered with a
	// fault instead of reaching DynamoDB Local.
	Rate float64
	// Seed fixes the sequence of draws, so that a run can be replayed: the n-th
	// data-plane request after SetFaults is faulted, or not, the same way every time
	// (which request is n-th still depends on how concurrent requests interleave).
	Seed uint64
	// Ops, when set, limits the faults to these operations (TransactWriteItems, say):
	// the others pass and draw nothing.
	Ops []string
}

// FaultsFromEnv reads DDB_FAULT_RATE (0 to 1; unset or empty means no faults) and
// DDB_FAULT_SEED (default 1).
func FaultsFromEnv() (Faults, error) {
	var f Faults
	if v := os.Getenv("DDB_FAULT_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			return Faults{}, fmt.Errorf("local: DDB_FAULT_RATE=%q: want a number from 0 to 1", v)
		}
		f.Rate = r
	}
	f.Seed = 1
	if v := os.Getenv("DDB_FAULT_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Faults{}, fmt.Errorf("local: DDB_FAULT_SEED=%q: want an unsigned integer", v)
		}
		f.Seed = s
	}
	return f, nil
}

// FaultStats count what the proxy saw of data-plane requests since the last
// SetFaults (or ResetFaultStats).
type FaultStats struct {
	// Requests are the data-plane requests, retries included.
	Requests int
	// Retries are the requests that were an SDK retry (amz-sdk-request: attempt=2 or more).
	Retries int
	// Injected counts the faults answered, by error code.
	Injected map[string]int
	// LastAttempt counts the faults answered to a request's last SDK attempt
	// (attempt = max): the SDK gives up and the error reaches the code. Every other
	// fault is met by a retry of the SDK, unless its retry quota is spent.
	LastAttempt int
}

// Total is the number of faults injected.
func (s FaultStats) Total() int {
	n := 0
	for _, v := range s.Injected {
		n += v
	}
	return n
}

// dataPlane are the DynamoDB operations faults are injected into: the reads and
// writes the functions and stream consumers make. Control-plane calls (the bootstrap's
// CreateTable, DescribeTable, ...) and DynamoDB Streams (the pollers' GetRecords,
// which play Lambda's part, not the functions') are never faulted.
var dataPlane = map[string]bool{
	"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"Query": true, "Scan": true, "BatchGetItem": true, "BatchWriteItem": true,
	"TransactGetItems": true, "TransactWriteItems": true,
}

// A fault is one error answer, as DynamoDB writes it (JSON 1.0 protocol): the SDK
// reads the code after '#' in __type and retries all three (the first two as
// throttling, the last as a 500).
type fault struct {
	status int
	typ    string
	msg    string
}

var faultKinds = []fault{
	{http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
		"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."},
	{http.StatusBadRequest, "com.amazon.coral.availability#ThrottlingException",
		"Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly."},
	{http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError",
		"Internal server error"},
}

// code is the error code the SDK sees (the part of __type after '#').
func (f fault) code() string { return f.typ[strings.LastIndexByte(f.typ, '#')+1:] }

// faultInjector answers a share of data-plane requests with a fault before they
// reach DynamoDB Local, so nothing of a faulted request is applied: like DynamoDB's
// throttling, which refuses a request before doing any of it. (A 500 in AWS may come
// after the write was applied; that case is not injected.)
type faultInjector struct {
	mu    sync.Mutex
	cfg   Faults
	rng   *rand.Rand
	stats FaultStats
}

// set replaces the configuration and restarts the draws and the counts.
func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.cfg = f
	fi.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	fi.stats = FaultStats{Injected: map[string]int{}}
}

func (fi *faultInjector) snapshot() FaultStats {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	s := fi.stats
	s.Injected = map[string]int{}
	for k, v := range fi.stats.Injected {
		s.Injected[k] = v
	}
	return s
}

// intercept answers r with a fault and reports true, or reports false to let it
// through. It counts every data-plane request either way.
func (fi *faultInjector) intercept(w http.ResponseWriter, r *http.Request) bool {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if !ok || !dataPlane[op] {
		return false
	}
	attempt, last := sdkAttempt(r.Header.Get("Amz-Sdk-Request"))
	fi.mu.Lock()
	if fi.stats.Injected == nil {
		fi.stats.Injected = map[string]int{}
	}
	fi.stats.Requests++
	n := fi.stats.Requests
	if attempt > 1 {
		fi.stats.Retries++
	}
	var f *fault
	if fi.cfg.Rate > 0 && fi.rng != nil && (len(fi.cfg.Ops) == 0 || slices.Contains(fi.cfg.Ops, op)) &&
		fi.rng.Float64() < fi.cfg.Rate {
		f = &faultKinds[fi.rng.IntN(len(faultKinds))]
		fi.stats.Injected[f.code()]++
		if last > 0 && attempt >= last {
			fi.stats.LastAttempt++
		}
	}
	fi.mu.Unlock()
	if f == nil {
		return false
	}
	body := fmt.Sprintf(`{"__type":%q,"message":%q}`, f.typ, f.msg)
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", fmt.Sprintf("FAULT%027d", n))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.status)
	_, _ = w.Write([]byte(body))
	return true
}

// sdkAttempt reads the SDK's "amz-sdk-request: attempt=2; max=3" header; zeros when
// it is absent.
func sdkAttempt(v string) (attempt, last int) {
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, _ := strconv.Atoi(val)
		switch k {
		case "attempt":
			attempt = n
		case "max":
			last = n
		}
	}
	return attempt, last
}
