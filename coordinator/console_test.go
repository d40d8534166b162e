package coordinator

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
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
