package local

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// crcProxy fronts DynamoDB Local and adds the X-Amz-Crc32 header its error
// responses lack. DynamoDB always sends it; the AWS SDK for Go v2 checks every
// DynamoDB response against it and, when it is missing, compares with 0 and logs
// "WARN failed to close HTTP response body ... response did not match expected
// checksum" for each error (a ConditionalCheckFailed, say). With the header, local
// runs read like AWS.
//
// Every DynamoDB client of the local system goes through it, so it is also where
// faults are injected (faults.go): a share of the data-plane requests is answered
// with throttling or a 500 instead of being forwarded.
type crcProxy struct {
	srv    *http.Server
	ln     net.Listener
	to     atomic.Pointer[url.URL]
	faults faultInjector
}

// startCRCProxy listens on addr; it forwards once target is called.
func startCRCProxy(addr string) (*crcProxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &crcProxy{ln: ln}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		if u := p.to.Load(); u != nil {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // as signed by the client
		}
	}}
	rp.Transport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = addCRC32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.faults.intercept(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	})
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func addCRC32(res *http.Response) error {
	if res.Header.Get("X-Amz-Crc32") != "" {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return nil
}

func (p *crcProxy) target(rawURL string) {
	u, err := url.Parse(rawURL)
	if err == nil {
		p.to.Store(u)
	}
}

func (p *crcProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *crcProxy) close() error {
	err := p.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
