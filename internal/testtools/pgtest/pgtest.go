// Package pgtest runs a private PostgreSQL cluster for one test: Debian's
// server binaries (initdb, pg_ctl) on a temporary directory and a free
// loopback port, so a test can stop and restart its database without
// disturbing the shared server other tests use at the same moment.
//
// initdb and postgres refuse to run as root; as root the cluster belongs
// to the postgres OS user that Debian's postgresql package creates, and
// every command runs through runuser.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// Install installs the server binaries the tests run.
const Install = "apt-get install -y postgresql"

// Server is a PostgreSQL cluster of one test. Its data survives Stop and
// Start; it is removed with the test.
type Server struct {
	// Addr is the server's host:port on the loopback interface.
	Addr string
	bin  string
	// dir holds the socket and the log; data is the cluster under it,
	// which initdb wants to own (mode 0700) itself.
	dir, data string
	// asUser prefixes every command: runuser to the postgres user when
	// this process is root, nothing otherwise.
	asUser []string
}

// Find returns the directory of the server binaries:
// $CAIRN_POSTGRES_BIN, then the newest /usr/lib/postgresql/*/bin.
func Find() (string, bool) {
	if d := os.Getenv("CAIRN_POSTGRES_BIN"); d != "" {
		return d, true
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first; "9.6" < "15" numerically, not as text.
	major := func(d string) int {
		n, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(d)), ".")[0])
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return major(b) - major(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, true
			}
		}
	}
	return "", false
}

// New creates (initdb) a cluster under a new directory; Start runs it.
// bin is what Find returned.
func New(bin string) (*Server, error) {
	var asUser []string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: as root, the cluster needs the postgres user of the postgresql package: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	// Not t.TempDir: its parents are private to this user, and the
	// postgres user must reach the directory. A short path also keeps the
	// socket's under the 107 bytes a Unix socket address holds.
	dir, err := os.MkdirTemp("", "cairn-pg-")
	if err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	port, err := testtools.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", port), bin: bin, dir: dir, data: filepath.Join(dir, "data"), asUser: asUser}
	// --no-sync: a test cluster need not survive the machine crashing.
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return s, nil
}

// run runs one of the server binaries as the cluster's owner.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(s.asUser), append([]string{filepath.Join(s.bin, name)}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// Start runs the server and returns once it accepts connections. The
// server logs to a file, not to pg_ctl's output: the daemon would keep
// that pipe open and the wait for pg_ctl would never end.
func (s *Server) Start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	// fsync=off: only the server restarts in a test, never the machine,
	// and a fast shutdown writes everything out anyway.
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, s.dir)
	if out, err := s.run("pg_ctl", "-D", s.data, "-l", s.LogFile(), "-o", opts, "-t", "60", "-w", "start"); err != nil {
		log, _ := os.ReadFile(s.LogFile())
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop shuts the server down the way an operator restarting it does:
// fast mode rolls back open transactions and closes every connection,
// and it returns once the server has exited.
func (s *Server) Stop() error {
	if out, err := s.run("pg_ctl", "-D", s.data, "-m", "fast", "-t", "60", "-w", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Restart stops the server, leaves it down for down, and starts it.
func (s *Server) Restart(down time.Duration) error {
	if err := s.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return s.Start()
}

// running reports whether the cluster has a live postmaster.
func (s *Server) running() bool {
	_, err := s.run("pg_ctl", "-D", s.data, "status")
	return err == nil
}

// DSN is a URL of database (the default "postgres" database when empty)
// as the superuser, who needs no password.
func (s *Server) DSN(database string) string {
	if database == "" {
		database = "postgres"
	}
	return "postgres://postgres@" + s.Addr + "/" + database + "?sslmode=disable"
}

// LogFile is the server's log, worth reading when a test fails.
func (s *Server) LogFile() string { return filepath.Join(s.dir, "postgres.log") }

// close stops the server if it runs and removes the cluster.
func (s *Server) close() error {
	var err error
	if s.running() {
		// Immediate: nothing of a finished test's data needs writing.
		if out, e := s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-t", "60", "-w", "stop"); e != nil {
			err = fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", e, out)
		}
	}
	if e := os.RemoveAll(s.dir); e != nil && err == nil {
		err = e
	}
	return err
}

// Start is a running cluster for one test, stopped and removed when it
// ends. Missing server binaries skip the test naming the install command
// (fail it under CI).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, ok := Find()
	if !ok {
		testtools.Missing(t, "PostgreSQL server binaries (initdb, pg_ctl)", Install)
	}
	s, err := New(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}
