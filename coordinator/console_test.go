package coordinator

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// TestConsoleServesPagesDataAndEvents: the console's page and assets are
// embedded and served; its JSON is the state (a job with its tasks, paged);
// the event stream sends the overview and the job live.
func TestConsoleServesPagesDataAndEvents(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr = "127.0.0.1:0" })
	conn := dial(t, s.Addr())
	sub := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return pb.NewJobServiceClient(conn).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: noopSpec("console", 250)})
	})
	base := "http://" + s.HTTPAddr()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]string{"/ui/": "<title>nightshift</title>", "/ui/static/app.js": "EventSource", "/ui/static/style.css": "progress", "/ui/login": "API token"} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want 200 with %q", path, code, want)
		}
	}
	var jobs consoleJobs
	_, body := get("/ui/api/jobs")
	if err := json.Unmarshal([]byte(body), &jobs); err != nil || jobs.Total != 1 || jobs.Jobs[0].ID != sub.Job.Id || jobs.Jobs[0].TasksTotal != 250 {
		t.Fatalf("jobs: %v %s", err, body)
	}
	var d consoleJobDetail
	_, body = get("/ui/api/jobs/" + sub.Job.Id + "?tasks=3")
	if err := json.Unmarshal([]byte(body), &d); err != nil || d.TaskPages != 3 || d.TaskPage != 3 || len(d.Tasks) != 50 || d.Tasks[0].Index != 200 || d.Counts["pending"] != 250 {
		t.Fatalf("job detail: %v pages %d page %d tasks %d counts %v", err, d.TaskPages, d.TaskPage, len(d.Tasks), d.Counts)
	}
	if code, _ := get("/ui/api/jobs/nope"); code != http.StatusNotFound {
		t.Errorf("unknown job: %d", code)
	}
	callRetry(t, func(ctx context.Context) (*pb.PutScheduleResponse, error) {
		return pb.NewScheduleServiceClient(conn).PutSchedule(ctx, &pb.PutScheduleRequest{Spec: &pb.ScheduleSpec{
			Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Berlin", Pipeline: testPipeline()}})
	})
	var o consoleOverview
	_, body = get("/ui/api/overview")
	if err := json.Unmarshal([]byte(body), &o); err != nil || len(o.Schedules) != 1 || o.Schedules[0].Name != "nightly" || o.Schedules[0].NextUnixMs == 0 ||
		o.Jobs["pending"]+o.Jobs["running"] != 1 || len(o.Queue) == 0 {
		t.Fatalf("overview: %v %s", err, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/ui/events?job="+sub.Job.Id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	events := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(events) < 2 {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events[name] = true
		}
	}
	if !events["overview"] || !events["job"] {
		t.Fatalf("events %v, want overview and job", events)
	}
}

// TestConsoleNeedsATokenWhenTokensAreOn: with tokens on, the page sends
// to the login form and the API answers 401; a bad token is refused with
// nothing more said; a good one sets an HttpOnly cookie that opens the
// console; repeated failures are rate limited.
func TestConsoleNeedsATokenWhenTokensAreOn(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr, cfg.Tokens = "127.0.0.1:0", TokensRequired })
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return pb.NewTokenServiceClient(dial(t, s.Addr())).BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	base := "http://" + s.HTTPAddr()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Fatalf("/ui/ without a cookie: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := http.Get(base + "/ui/api/overview"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("api without a cookie: %d", resp.StatusCode)
	}
	forged := &http.Client{}
	reqF, _ := http.NewRequest("GET", base+"/ui/api/overview", nil)
	reqF.AddCookie(&http.Cookie{Name: consoleCookie, Value: boot.Secret + "x"})
	if resp, _ := forged.Do(reqF); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged cookie: %d", resp.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"token": {"nst_abc_def"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(body)) != "token refused" {
		t.Fatalf("a bad login: %d %q", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"token": {boot.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base + "/ui/")
	if cookies := jar.Cookies(u); len(cookies) != 1 || cookies[0].Name != consoleCookie {
		t.Fatalf("cookies after login: %v", cookies)
	}
	if resp, _ := c.Get(base + "/ui/api/overview"); resp.StatusCode != http.StatusOK {
		t.Fatalf("api with the cookie: %d", resp.StatusCode)
	}
	// Five tries are allowed (two used), then 429.
	codes := []int{}
	for range 5 {
		resp, _ := http.PostForm(base+"/ui/login", url.Values{"token": {"nst_x_y"}})
		codes = append(codes, resp.StatusCode)
		resp.Body.Close()
	}
	if codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Fatalf("login codes %v, want 429 at the end", codes)
	}
}

// TestConsoleActions: an action needs the console header, the token's
// role for the gRPC method it stands for (a read token may not drain),
// reaches the state (a drained worker, a cancelled job) and records who.
func TestConsoleActions(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr, cfg.Tokens = "127.0.0.1:0", TokensRequired })
	conn := dial(t, s.Addr())
	tokens := pb.NewTokenServiceClient(conn)
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return tokens.BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	root := metadataCtx(boot.Secret)
	reader, err := tokens.CreateToken(root, &pb.CreateTokenRequest{Name: "rita", Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return pb.NewWorkerServiceClient(conn).Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 1}})
	})
	sub, err := pb.NewJobServiceClient(conn).SubmitJob(root, &pb.SubmitJobRequest{Spec: noopSpec("c", 2)})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.HTTPAddr()
	post := func(token, path string, header bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, nil)
		req.AddCookie(&http.Cookie{Name: consoleCookie, Value: token})
		if header {
			req.Header.Set(consoleActionHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	if code, _ := post(boot.Secret, "/ui/api/workers/w1/drain", false); code != http.StatusForbidden {
		t.Fatalf("without the console header: %d", code)
	}
	if code, body := post(reader.Secret, "/ui/api/workers/w1/drain", true); code != http.StatusForbidden || !strings.Contains(body, "needs a token of role operate") {
		t.Fatalf("a read token drains: %d %q", code, body)
	}
	if code, body := post(boot.Secret, "/ui/api/workers/w1/drain", true); code != http.StatusNoContent {
		t.Fatalf("drain: %d %q", code, body)
	}
	if w := s.store.Snapshot().Worker("w1"); w.State != pb.WorkerState_WORKER_STATE_DRAINING {
		t.Fatalf("worker %s after the drain", w.State)
	}
	if code, body := post(boot.Secret, "/ui/api/jobs/"+sub.Job.Id+"/cancel", true); code != http.StatusNoContent {
		t.Fatalf("cancel: %d %q", code, body)
	}
	j := s.store.Snapshot().Job(sub.Job.Id)
	if j.State != pb.JobState_JOB_STATE_CANCELLED || !strings.Contains(j.Error+fmt.Sprint(j.Events), "by ops: from the console") {
		t.Fatalf("job %s after the cancel, recorded %q %v", j.State, j.Error, j.Events)
	}
	if code, _ := post(boot.Secret, "/ui/api/jobs/nope/cancel", true); code != http.StatusNotFound {
		t.Fatalf("cancel an unknown job: %d", code)
	}
}

func metadataCtx(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(token))
}
