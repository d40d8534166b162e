package faultnet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// quiet is how long a test watches for bytes that must not arrive.
const quiet = 200 * time.Millisecond

// echo serves on node a line echo server and returns its address.
func echo(t *testing.T, nd *Node) string {
	t.Helper()
	ln, err := nd.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, nd *Node, addr string) net.Conn {
	t.Helper()
	c, err := nd.DialContext(context.Background(), addr)
	if err != nil {
		t.Fatalf("%s dials %s: %v", nd.Name(), addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes a line and reads it back, returning the time it took.
func roundTrip(c net.Conn, line string) (time.Duration, error) {
	start := time.Now()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if got != line+"\n" {
		return 0, errors.New("echo returned " + got)
	}
	return time.Since(start), nil
}

func TestPartitionCutsOpenConnectionsAndHealRestores(t *testing.T) {
	n := New()
	a, b, c := n.Node("a"), n.Node("b"), n.Node("c")
	addr := echo(t, a)
	ab, cb := dial(t, b, addr), dial(t, c, addr)
	for _, conn := range []net.Conn{ab, cb} {
		if _, err := roundTrip(conn, "hello"); err != nil {
			t.Fatal(err)
		}
	}

	n.Partition([]string{"a"}, []string{"b"})
	// The open connection is cut at once: a blocked read ends, writes fail.
	_ = ab.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ab.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("read on a cut connection: %v, want it closed", err)
	}
	if _, err := ab.Write([]byte("x")); err == nil {
		t.Fatal("write on a cut connection succeeded")
	}
	if _, err := b.DialContext(context.Background(), addr); !errors.Is(err, ErrPartitioned) {
		t.Fatalf("dial across the partition: %v, want ErrPartitioned", err)
	}
	// c is on neither side: untouched.
	if _, err := roundTrip(cb, "still here"); err != nil {
		t.Fatalf("a connection outside the partition: %v", err)
	}

	n.Heal()
	if _, err := roundTrip(dial(t, b, addr), "healed"); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	if got := n.Dials("b"); got != 2 {
		t.Fatalf("b dialed %d connections through the network, want 2", got)
	}
}

func TestBlackholeAcceptsButNeverDelivers(t *testing.T) {
	n := New()
	a, b := n.Node("a"), n.Node("b")
	ln, err := a.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	n.Blackhole("a")
	bc := dial(t, b, ln.Addr().String()) // accepted: a blackhole is not a refusal
	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, c := range []net.Conn{bc, plain} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatalf("write into the blackhole: %v", err)
		}
		srv := <-accepted
		defer srv.Close()
		// The bytes were sent; a never sees them...
		_ = srv.SetReadDeadline(time.Now().Add(quiet))
		if k, err := srv.Read(make([]byte, 8)); k != 0 || !os.IsTimeout(err) {
			t.Fatalf("the blackholed node read %d bytes (%v)", k, err)
		}
		// ...and what a answers never reaches the dialer.
		if _, err := srv.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if c == bc {
			_ = c.SetReadDeadline(time.Now().Add(quiet))
			if k, err := c.Read(make([]byte, 8)); k != 0 || !os.IsTimeout(err) {
				t.Fatalf("the dialer read %d bytes out of the blackhole (%v)", k, err)
			}
		}
	}

	// Heal closes what lost bytes; a new connection works.
	n.Heal()
	_ = bc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bc.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("a connection that dropped bytes survived Heal: %v", err)
	}
	c := dial(t, b, ln.Addr().String())
	srv := <-accepted
	defer srv.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("after Heal the node read %q (%v)", buf, err)
	}
}

func TestDelayDelaysEachDirection(t *testing.T) {
	n := New()
	a, b := n.Node("a"), n.Node("b")
	c := dial(t, b, echo(t, a))
	const d = 150 * time.Millisecond
	n.Delay("b", "a", d)
	if rtt, err := roundTrip(c, "one way"); err != nil || rtt < d {
		t.Fatalf("round trip %s (%v) with %s on b→a", rtt, err, d)
	}
	n.Delay("a", "b", d)
	if rtt, err := roundTrip(c, "both ways"); err != nil || rtt < 2*d {
		t.Fatalf("round trip %s (%v) with %s each way", rtt, err, d)
	}
	n.Delay("b", "a", 0)
	n.Delay("a", "b", 0)
	if _, err := roundTrip(c, "no delay"); err != nil {
		t.Fatal(err)
	}
}

// TestGRPCOverFaultnet drives a gRPC client through a Node's dialer: an
// RPC across a partition fails fast with Unavailable (no hang), a
// blackholed one runs into its deadline, and after Heal calls succeed.
func TestGRPCOverFaultnet(t *testing.T) {
	n := New()
	srvNode, cliNode := n.Node("server"), n.Node("client")
	ln, err := srvNode.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(ln) }()
	defer s.Stop()
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(cliNode.DialContext))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	check := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	n.Partition([]string{"client"}, []string{"server"})
	start := time.Now()
	err = check(5 * time.Second)
	if status.Code(err) != codes.Unavailable || time.Since(start) > 2*time.Second {
		t.Fatalf("RPC across a partition: %v after %s, want Unavailable at once", err, time.Since(start))
	}

	n.Heal()
	// WaitForReady rides out grpc's reconnect backoff instead of polling.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("no RPC got through within 10s of Heal: %v", err)
	}

	n.Blackhole("server")
	if err := check(300 * time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("RPC into a blackhole: %v, want DeadlineExceeded", err)
	}
	n.Heal()
}
