// Package smtpclient holds one conversation with a tenant's own SMTP server (white-label
// mail, shared/smtpsettings): connect, TLS (implicit or STARTTLS), AUTH, then MAIL,
// RCPT and DATA, and it tells the outcome as the server put it: the stage reached and
// the server's reply code and text. It links no AWS client; what may be connected to
// is the dialer's business (its Control function, shared/ssrf).
package smtpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// The TLS modes of a server.
const (
	// TLSNone speaks plain SMTP. net/smtp then refuses to send a password to any
	// host but localhost (stage auth): credentials never cross the network in clear.
	TLSNone = "none"
	// TLSStartTLS upgrades with STARTTLS after EHLO, and fails when it is not offered.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465, "SMTPS").
	TLSImplicit = "tls"
)

// TLSModes lists every mode.
var TLSModes = []string{TLSNone, TLSStartTLS, TLSImplicit}

// The stages of a conversation, in order.
const (
	StageConnect = "connect"
	StageTLS     = "tls"
	StageAuth    = "auth"
	StageSend    = "send"
)

// Server is where and how to reach a server.
type Server struct {
	Host     string
	Port     int
	TLSMode  string
	Username string
	Password string
}

// Addr is host:port.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Reply is how a conversation ended: OK after the server accepted the message (its
// final reply to DATA), else the stage that failed with the server's reply code and
// text, or code 0 and what went wrong when the server gave no reply (refused
// connection, timeout, TLS handshake, a refusal of our own).
type Reply struct {
	OK      bool   `json:"ok"`
	Stage   string `json:"stage"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (r Reply) String() string {
	if r.OK {
		return fmt.Sprintf("accepted (%d %s)", r.Code, r.Message)
	}
	return fmt.Sprintf("failed at %s: %d %s", r.Stage, r.Code, r.Message)
}

// Client sends through servers.
type Client struct {
	// Dialer connects (its Control function decides which addresses may be reached).
	Dialer *net.Dialer
	// Timeout bounds the whole conversation (Send's context may end it sooner).
	Timeout time.Duration
	// LocalName is the name sent with EHLO ("localhost" when empty).
	LocalName string
	// TLS is the base TLS configuration (nil: the system roots, TLS 1.2 or later); its
	// ServerName is always the server's host. Tests set RootCAs.
	TLS *tls.Config
}

// maxMessage bounds the reply text kept from a server.
const maxMessage = 512

// failed is the Reply of a failure at stage: the server's reply when err is one.
func failed(stage string, err error) Reply {
	var te *textproto.Error
	if errors.As(err, &te) {
		return Reply{Stage: stage, Code: te.Code, Message: clip(te.Msg)}
	}
	return Reply{Stage: stage, Message: clip(err.Error())}
}

func clip(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "?")
	if len(s) > maxMessage {
		s = s[:maxMessage]
	}
	return s
}

// Send delivers raw (a whole MIME message) from from to to through srv.
func (c *Client) Send(ctx context.Context, srv Server, from, to string, raw []byte) Reply {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	dialer := c.Dialer
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	conn, err := dialer.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		return failed(StageConnect, err)
	}
	// Every read and write below ends at the deadline, and so does the conversation
	// when the context is cancelled first.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tlsConf := c.tlsConfig(srv.Host)
	if srv.TLSMode == TLSImplicit {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return failed(StageTLS, err)
		}
		conn = tc
	}
	// NewClient reads the greeting: a refusal there (554) is the connect stage's.
	cl, err := smtp.NewClient(conn, srv.Host)
	if err != nil {
		conn.Close()
		return failed(StageConnect, err)
	}
	defer cl.Close()
	name := c.LocalName
	if name == "" {
		name = "localhost"
	}
	if err := cl.Hello(name); err != nil {
		return failed(StageConnect, err)
	}
	if srv.TLSMode == TLSStartTLS {
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			return Reply{Stage: StageTLS, Message: "the server does not offer STARTTLS"}
		}
		if err := cl.StartTLS(tlsConf); err != nil {
			return failed(StageTLS, err)
		}
	}
	if srv.Username != "" {
		if ok, _ := cl.Extension("AUTH"); !ok {
			return Reply{Stage: StageAuth, Message: "the server does not offer AUTH"}
		}
		if err := cl.Auth(smtp.PlainAuth("", srv.Username, srv.Password, srv.Host)); err != nil {
			return failed(StageAuth, err)
		}
	}
	if err := cl.Mail(from); err != nil {
		return failed(StageSend, err)
	}
	if err := cl.Rcpt(to); err != nil {
		return failed(StageSend, err)
	}
	reply := data(cl, raw)
	if reply.OK {
		_ = cl.Quit()
	}
	return reply
}

// data sends DATA and the message, and reads the server's final reply itself:
// net/smtp's Data writer keeps that reply's text to itself.
func data(cl *smtp.Client, raw []byte) Reply {
	id, err := cl.Text.Cmd("DATA")
	if err != nil {
		return failed(StageSend, err)
	}
	cl.Text.StartResponse(id)
	_, _, err = cl.Text.ReadResponse(354)
	cl.Text.EndResponse(id)
	if err != nil {
		return failed(StageSend, err)
	}
	w := cl.Text.DotWriter()
	if _, err := io.Copy(w, strings.NewReader(string(raw))); err != nil {
		return failed(StageSend, err)
	}
	if err := w.Close(); err != nil {
		return failed(StageSend, err)
	}
	code, msg, err := cl.Text.ReadResponse(250)
	if err != nil {
		return failed(StageSend, err)
	}
	return Reply{OK: true, Stage: StageSend, Code: code, Message: clip(msg)}
}

func (c *Client) tlsConfig(host string) *tls.Config {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS != nil {
		conf = c.TLS.Clone()
	}
	conf.ServerName = host
	return conf
}
