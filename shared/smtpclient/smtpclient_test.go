package smtpclient_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/smtpclient"
	"opsconsole/shared/smtpclient/smtptest"
)

// Every server here is one the test started on loopback.
func TestSendStages(t *testing.T) {
	c := &smtpclient.Client{Timeout: 5 * time.Second}
	raw := []byte("Subject: hi\r\n\r\nhello\r\n")
	ctx := context.Background()

	ok := smtptest.Start(t)
	ok.Users = map[string]string{"tenant": "s3cret"}
	r := c.Send(ctx, smtpclient.Server{Host: ok.Host, Port: ok.Port, TLSMode: smtpclient.TLSNone, Username: "tenant", Password: "s3cret"},
		"from@example.com", "to@example.com", raw)
	if !r.OK || r.Stage != smtpclient.StageSend || r.Code != 250 || !strings.Contains(r.Message, "queued") {
		t.Fatalf("accepted: %+v", r)
	}
	if m := ok.To("to@example.com"); len(m) != 1 || m[0].User != "tenant" || !strings.Contains(m[0].Data, "hello") {
		t.Fatalf("received %+v", m)
	}

	refusing := smtptest.Start(t)
	refusing.RefuseAuth = "535 5.7.8 Username and Password not accepted"
	r = c.Send(ctx, smtpclient.Server{Host: refusing.Host, Port: refusing.Port, TLSMode: smtpclient.TLSNone, Username: "u", Password: "p"},
		"from@example.com", "to@example.com", raw)
	if r.OK || r.Stage != smtpclient.StageAuth || r.Code != 535 || !strings.Contains(r.Message, "not accepted") {
		t.Fatalf("refused auth: %+v", r)
	}
	if len(refusing.Messages()) != 0 {
		t.Fatal("a message went through a refused authentication")
	}

	// STARTTLS asked of a server that does not offer it.
	r = c.Send(ctx, smtpclient.Server{Host: ok.Host, Port: ok.Port, TLSMode: smtpclient.TLSStartTLS}, "from@example.com", "to@example.com", raw)
	if r.OK || r.Stage != smtpclient.StageTLS {
		t.Fatalf("starttls: %+v", r)
	}

	// A port with nothing listening: a listener of ours, closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r = c.Send(ctx, smtpclient.Server{Host: "127.0.0.1", Port: port, TLSMode: smtpclient.TLSNone}, "from@example.com", "to@example.com", raw)
	if r.OK || r.Stage != smtpclient.StageConnect || r.Code != 0 || r.Message == "" {
		t.Fatalf("nothing listening: %+v", r)
	}

	// A server that accepts the connection and never greets: the timeout ends it.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		c, err := silent.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(3 * time.Second)
		}
	}()
	quick := &smtpclient.Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	r = quick.Send(ctx, smtpclient.Server{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, TLSMode: smtpclient.TLSNone}, "from@example.com", "to@example.com", raw)
	if r.OK || r.Stage != smtpclient.StageConnect || time.Since(start) > 2*time.Second {
		t.Fatalf("silent server: %+v after %s", r, time.Since(start))
	}

}
