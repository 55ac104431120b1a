// Package smtptest is a small SMTP server for tests, on a loopback port of its own:
// it speaks enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
// to receive real messages from net/smtp, keeps what it received, and can be told to
// refuse authentication with a real reply code. Tests only; nothing in a Lambda links it.
package smtptest

import (
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data string
	// User is the user name it was authenticated with ("" without AUTH).
	User string
}

// Server is a running server.
type Server struct {
	// Addr is its loopback host:port; Host and Port the same, split.
	Addr string
	Host string
	Port int
	// RefuseAuth, when set, answers every AUTH with this reply ("535 5.7.8 …").
	RefuseAuth string
	// Users are the accepted user name → password pairs (any when nil).
	Users map[string]string

	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	wg   sync.WaitGroup
}

// Start starts a server on 127.0.0.1 and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr)
	s := &Server{Addr: a.String(), Host: "127.0.0.1", Port: a.Port, ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}

// Messages is what the server has accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To is the messages accepted for address.
func (s *Server) To(address string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				out = append(out, m)
			}
		}
	}
	return out
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.session(textproto.NewConn(c))
		}()
	}
}

func (s *Server) session(tc *textproto.Conn) {
	reply := func(line string) { _ = tc.PrintfLine("%s", line) }
	reply("220 smtptest ready")
	var cur Message
	var user string
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			reply("250-smtptest")
			reply("250-8BITMIME")
			reply("250 AUTH PLAIN")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 unrecognised authentication type")
				continue
			}
			if s.RefuseAuth != "" {
				reply(s.RefuseAuth)
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 {
				reply("501 5.5.2 cannot decode the response")
				continue
			}
			if s.Users != nil && s.Users[parts[1]] != parts[2] {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			user = parts[1]
			reply("235 2.7.0 authentication successful")
		case "MAIL":
			cur = Message{From: addrOf(arg), User: user}
			reply("250 2.1.0 ok")
		case "RCPT":
			cur.To = append(cur.To, addrOf(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			reply("354 end data with <CR><LF>.<CR><LF>")
			b, err := tc.ReadDotBytes()
			if err != nil {
				return
			}
			cur.Data = string(b)
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			reply("250 2.0.0 queued as smtptest")
			cur = Message{User: user}
		case "RSET":
			cur = Message{User: user}
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}

// addrOf reads the address of "FROM:<a@b>" or "TO:<a@b>".
func addrOf(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a, _, _ = strings.Cut(strings.TrimSpace(a), " ")
	return strings.Trim(a, "<>")
}
