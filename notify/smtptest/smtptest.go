// Package smtptest runs a minimal RFC 5321 mail server on loopback for
// tests: EHLO/HELO, optional STARTTLS (RFC 3207), AUTH PLAIN (RFC 4616),
// MAIL FROM, RCPT TO, DATA, RSET, NOOP and QUIT. It keeps every message it
// accepts; nothing is relayed.
package smtptest

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	// Data is the message as received, dot-unstuffed, CRLF line ends.
	Data []byte
	// TLS and Auth tell whether the session used STARTTLS and who
	// authenticated ("" for nobody).
	TLS  bool
	Auth string
}

// Server is a running test server.
type Server struct {
	// Addr is host:port of the listener.
	Addr string
	// Messages receives each accepted message.
	Messages chan Message

	ln       net.Listener
	tls      *tls.Config
	user     string
	password string
	wg       sync.WaitGroup
}

// Options configure a server.
type Options struct {
	// TLS, when set, makes the server offer STARTTLS.
	TLS *tls.Config
	// Username and Password, when set, make AUTH PLAIN required before
	// MAIL FROM.
	Username, Password string
}

// Start listens on 127.0.0.1 and serves until Close.
func Start(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), Messages: make(chan Message, 100), ln: ln, tls: o.TLS, user: o.Username, password: o.Password}
	s.wg.Go(s.accept)
	return s, nil
}

// Close stops the server and waits for its sessions.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.session(c) })
	}
}

type session struct {
	conn net.Conn
	tp   *textproto.Conn
	tls  bool
	auth string
	from string
	to   []string
}

func (s *Server) session(c net.Conn) {
	defer c.Close()
	ss := &session{conn: c, tp: textproto.NewConn(c)}
	ss.tp.PrintfLine("220 localhost cairn test SMTP ready")
	for {
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"localhost greets " + arg, "8BITMIME", "SIZE 10485760"}
			if s.tls != nil && !ss.tls {
				lines = append(lines, "STARTTLS")
			}
			if s.user != "" {
				lines = append(lines, "AUTH PLAIN")
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				ss.tp.PrintfLine("250%s%s", sep, l)
			}
		case "HELO":
			ss.tp.PrintfLine("250 localhost")
		case "STARTTLS":
			if s.tls == nil || ss.tls {
				ss.tp.PrintfLine("502 5.5.1 not offered")
				continue
			}
			ss.tp.PrintfLine("220 2.0.0 ready to start TLS")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			ss.conn, ss.tp, ss.tls = tc, textproto.NewConn(tc), true
			ss.from, ss.to, ss.auth = "", nil, ""
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				ss.tp.PrintfLine("504 5.5.4 unrecognized mechanism")
				continue
			}
			if resp == "" {
				ss.tp.PrintfLine("334 ")
				if resp, err = ss.tp.ReadLine(); err != nil {
					return
				}
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.user || parts[2] != s.password {
				ss.tp.PrintfLine("535 5.7.8 authentication credentials invalid")
				continue
			}
			ss.auth = parts[1]
			ss.tp.PrintfLine("235 2.7.0 authentication successful")
		case "MAIL":
			if s.user != "" && ss.auth == "" {
				ss.tp.PrintfLine("530 5.7.0 authentication required")
				continue
			}
			ss.from, ss.to = addrArg(arg, "FROM:"), nil
			ss.tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			if ss.from == "" {
				ss.tp.PrintfLine("503 5.5.1 MAIL first")
				continue
			}
			ss.to = append(ss.to, addrArg(arg, "TO:"))
			ss.tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			if len(ss.to) == 0 {
				ss.tp.PrintfLine("503 5.5.1 RCPT first")
				continue
			}
			ss.tp.PrintfLine("354 end data with <CR><LF>.<CR><LF>")
			data, err := ss.tp.ReadDotBytes()
			if err != nil {
				return
			}
			// ReadDotBytes turns CRLF into LF; messages on the wire use CRLF.
			data = []byte(strings.ReplaceAll(string(data), "\n", "\r\n"))
			s.Messages <- Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls, Auth: ss.auth}
			ss.from, ss.to = "", nil
			ss.tp.PrintfLine("250 2.0.0 queued")
		case "RSET":
			ss.from, ss.to = "", nil
			ss.tp.PrintfLine("250 2.0.0 ok")
		case "NOOP":
			ss.tp.PrintfLine("250 2.0.0 ok")
		case "QUIT":
			ss.tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			ss.tp.PrintfLine("500 5.5.2 unrecognized command")
		}
	}
}

// addrArg reads "FROM:<a@b> SIZE=1" into "a@b".
func addrArg(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	a := strings.TrimSpace(arg[len(prefix):])
	a, _, _ = strings.Cut(a, " ")
	return strings.Trim(a, "<>")
}
