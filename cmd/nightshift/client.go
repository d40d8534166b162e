package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// defaultCoordinator is the dev cluster's API address, used when neither
// --coordinator nor NIGHTSHIFT_ADDR says otherwise.
const defaultCoordinator = "127.0.0.1:7100"

// clientFlags are the connection settings every client command takes.
type clientFlags struct {
	addr    string // one coordinator address or several, comma-separated
	tls     rpc.TLSConfig
	token   string
	timeout time.Duration
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func addClientFlags(cmd *cobra.Command, f *clientFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "coordinator", envOr("NIGHTSHIFT_ADDR", defaultCoordinator),
		"coordinator gRPC addresses host:port, comma-separated; any coordinator will do, the next one is tried when one cannot be reached (env NIGHTSHIFT_ADDR)")
	fl.StringVar(&f.tls.CAFile, "tls-ca", os.Getenv("NIGHTSHIFT_TLS_CA"), "CA certificate (PEM) that signed the coordinator's certificate (env NIGHTSHIFT_TLS_CA)")
	fl.StringVar(&f.tls.CertFile, "tls-cert", os.Getenv("NIGHTSHIFT_TLS_CERT"), "client certificate (PEM) for mutual TLS (env NIGHTSHIFT_TLS_CERT)")
	fl.StringVar(&f.tls.KeyFile, "tls-key", os.Getenv("NIGHTSHIFT_TLS_KEY"), "client private key (PEM) for mutual TLS (env NIGHTSHIFT_TLS_KEY)")
	fl.StringVar(&f.tls.ServerName, "tls-server-name", os.Getenv("NIGHTSHIFT_TLS_SERVER_NAME"), "name to verify in the coordinator's certificate (default: the host of the --coordinator address dialled)")
	fl.StringVar(&f.token, "token", os.Getenv("NIGHTSHIFT_TOKEN"), "bearer token (nst_…) sent with every call; a coordinator listening beyond loopback requires one (env NIGHTSHIFT_TOKEN; prefer the variable: a flag shows in ps)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "limit on each API call (not on --wait)")
}

// apiClient is a connection to the coordinators with its service stubs.
type apiClient struct {
	conn    *grpc.ClientConn
	addr    string // the coordinators, as messages name them
	timeout time.Duration
	jobs    nsv1.JobServiceClient
	admin   nsv1.AdminServiceClient
}

// dial connects (lazily) to the coordinators the flags name.
func (f *clientFlags) dial() (*apiClient, error) {
	if err := f.tls.Validate(); err != nil {
		return nil, fmt.Errorf("%w (flags --tls-ca, --tls-cert, --tls-key)", err)
	}
	addrs, err := splitAddrs(f.addr)
	if err != nil {
		return nil, err
	}
	conn, err := dialCoordinators(addrs, f.tls, strings.TrimSpace(f.token))
	if err != nil {
		return nil, err
	}
	return &apiClient{conn: conn, addr: strings.Join(addrs, ","), timeout: f.timeout,
		jobs: nsv1.NewJobServiceClient(conn), admin: nsv1.NewAdminServiceClient(conn)}, nil
}

func (c *apiClient) Close() error { return c.conn.Close() }

// call bounds one unary call by the per-call timeout.
func (c *apiClient) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// withClient dials, runs fn and closes the connection.
func withClient(cmd *cobra.Command, f *clientFlags, fn func(context.Context, *apiClient) error) error {
	c, err := f.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(cmd.Context(), c)
}

// apiError turns a gRPC error into a one-line message. what names the
// object of the call ("job abc", "worker w1") for not-found errors.
func (c *apiClient) apiError(err error, what string) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := firstLine(st.Message())
	switch st.Code() {
	case codes.NotFound:
		if what != "" && !strings.Contains(msg, what) {
			return fmt.Errorf("%s not found", what)
		}
		return errors.New(msg)
	case codes.Unavailable:
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "transport:") || strings.Contains(msg, "dial") {
			return fmt.Errorf("cannot reach coordinator %s (is it running? set --coordinator or NIGHTSHIFT_ADDR, a comma-separated list): %s", c.addr, msg)
		}
		return fmt.Errorf("coordinator %s is unavailable: %s", c.addr, msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("coordinator %s did not answer within %s (--timeout)", c.addr, c.timeout)
	case codes.Canceled:
		return errors.New("interrupted")
	case codes.Unauthenticated:
		return fmt.Errorf("refused by coordinator %s: %s", c.addr, msg)
	case codes.PermissionDenied:
		return fmt.Errorf("refused by coordinator %s: %s (check the token's role, or --tls-ca, --tls-cert, --tls-key)", c.addr, msg)
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange, codes.Aborted, codes.ResourceExhausted:
		return errors.New(msg)
	case codes.Unimplemented:
		return fmt.Errorf("coordinator %s does not support this call (older version?): %s", c.addr, msg)
	}
	return fmt.Errorf("%s: %s", strings.ToLower(strings.ReplaceAll(st.Code().String(), "_", " ")), msg)
}

// retryable reports whether a failed stream is worth opening again (the
// coordinator restarted or lost leadership).
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.Internal:
		return true
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
