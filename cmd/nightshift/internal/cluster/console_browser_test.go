package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// chromiumPath finds Debian's chromium (scripts/tools.sh chromium installs
// it); "" when there is none.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the browser tests save each page's screenshot:
// $NIGHTSHIFT_SCREENSHOTS, else a folder below the system temp folder.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("NIGHTSHIFT_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nightshift-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleInChromium drives the operator console in headless chromium
// over an in-process cluster that requires tokens: the login form; every
// page loads without a console error or exception; a job's progress
// advances live over the event stream; a read token's drain is refused
// and an operator's drain reaches the worker. Two ad-hoc pipeline runs
// train a model (the second validated against the first's and compared
// with it), so the model, run and training job pages have something to
// show. Each page is saved as a screenshot.
func TestConsoleInChromium(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("no chromium on this machine: `scripts/tools.sh chromium` installs Debian's (as root); make test does")
	}
	c := startCluster(t, 1, 2, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) {
			cfg.HTTPAddr, cfg.Tokens = "127.0.0.1:0", coordinator.TokensRequired
		}
	})
	leader, err := c.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	tokens := pb.NewTokenServiceClient(conn)
	boot, err := tokens.BootstrapToken(context.Background(), &pb.BootstrapTokenRequest{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	root := metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(boot.Secret))
	reader, err := tokens.CreateToken(root, &pb.CreateTokenRequest{Name: "rita", Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	// A job slow enough to watch: 60 tasks of 1 s on 4 slots (15 s).
	sub, err := pb.NewJobServiceClient(conn).SubmitJob(root, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: "watch-me",
		Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 60, SleepMs: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	// The first run trains churn v1 (no reference to validate against yet);
	// the second, with another seed (a new input key: not reused), is
	// checked against v1's training profile and compared with v1.
	sched := pb.NewScheduleServiceClient(conn)
	f := newFixture(t, 2, 400, 200)
	startRun := func(seed uint64) string {
		t.Helper()
		sp := trainSpec(f, "churn", 1, 1)
		sp.Seed, sp.Evaluation = seed, &pb.EvaluationSpec{Slices: []string{"plan", "age"}}
		sp.Promotion = &pb.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0)}
		resp, err := sched.StartPipeline(root, &pb.StartPipelineRequest{Pipeline: &pb.PipelineSpec{Train: sp, Validate: &pb.ValidateSpec{MinRows: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Run.Id
	}
	waitRun := func(id string) *pb.PipelineRun {
		t.Helper()
		var r *pb.PipelineRun
		testkit.Retry(t, 90*time.Second, "run "+id+" to end", func() error {
			ctx, cancel := context.WithTimeout(root, 5*time.Second)
			defer cancel()
			resp, err := sched.GetRun(ctx, &pb.GetRunRequest{Id: id})
			if err != nil {
				return err
			}
			if r = resp.Run; r.State == pb.RunState_RUN_STATE_QUEUED || r.State == pb.RunState_RUN_STATE_RUNNING {
				return fmt.Errorf("run %s is %s", id, r.State)
			}
			return nil
		})
		return r
	}
	firstRun := startRun(9)
	base := "http://" + leader.HTTPAddr()
	shots := screenshotDir(t)

	browse := func(t *testing.T) (context.Context, *consoleLog) {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 860))
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		t.Cleanup(cancel)
		ctx, cancel2 := chromedp.NewContext(actx)
		t.Cleanup(cancel2)
		ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(cancel3)
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatalf("start chromium: %v", err)
		}
		log := &consoleLog{}
		messages := chromedp.Console(ctx)
		go func() {
			for m, err := range messages {
				if err != nil {
					return
				}
				if m.IsException() || m.Type == "error" {
					log.add(m.String())
				}
			}
		}()
		return ctx, log
	}
	login := func(ctx context.Context, token string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/ui/"),
			chromedp.WaitVisible(chromedp.CSS("#token")), // the console sent us to its login form
			chromedp.SendKeys(chromedp.CSS("#token"), token),
			chromedp.Submit(chromedp.CSS("#token")),
			chromedp.WaitVisible(chromedp.CSS("#view table")),
		); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	capture := func(ctx context.Context, name string, screenshot chromedp.Action[[]byte]) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, screenshot)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(ctx context.Context, name string) { t.Helper(); capture(ctx, name, chromedp.CaptureScreenshot()) }
	// The detail pages run longer than the window: the whole page, as PNG.
	fullShot := func(ctx context.Context, name string) { t.Helper(); capture(ctx, name, chromedp.FullScreenshot(100)) }
	// confirm() dialogs say yes: a person would read and accept them.
	acceptConfirms := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("window.confirm = () => true, true")(ctx, tg)
		return err
	})

	// The read-only user: every page, no errors, live progress, a refused drain.
	ctx, log := browse(t)
	login(ctx, reader.Secret)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`//td[text()="worker-1"]`)); err != nil {
		t.Fatalf("cluster page: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#view")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Coordinators", "Queue by pool", "worker-1", "worker-2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the cluster page lacks %q", want)
		}
	}
	shot(ctx, "cluster")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/#/jobs"), chromedp.WaitVisible(`//a[text()="`+sub.Job.Id+`"]`)); err != nil {
		t.Fatalf("jobs page: %v", err)
	}
	shot(ctx, "jobs")
	progress := func() int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#view progress"), "value"))
		if err != nil {
			t.Fatalf("progress: %v", err)
		}
		n, _ := strconv.Atoi(v.Value)
		return n
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/#/jobs/"+sub.Job.Id), chromedp.WaitVisible(chromedp.CSS("#view progress"))); err != nil {
		t.Fatalf("job page: %v", err)
	}
	first := progress()
	testkit.Wait(t, 20*time.Second, "the job's progress to advance on the page", func() bool { return progress() > first })
	shot(ctx, "job")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/#/models"), chromedp.WaitVisible(`//h2[text()="Models"]`)); err != nil {
		t.Fatalf("models page: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/#/schedules"), chromedp.WaitVisible(`//h2[text()="Schedules"]`)); err != nil {
		t.Fatalf("schedules page: %v", err)
	}
	drain := `//tr[td[text()="worker-1"]]//button[text()="Drain"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/#/"), chromedp.WaitVisible(drain), acceptConfirms, chromedp.Click(drain)); err != nil {
		t.Fatalf("a read user's drain: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("refused (403)")`)); err != nil {
		t.Fatalf("the page does not say the drain was refused: %v", err)
	}
	workerState := func() pb.WorkerState {
		resp, err := pb.NewAdminServiceClient(conn).ListWorkers(root, &pb.ListWorkersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range resp.Workers {
			if w.Worker.Id == "worker-1" {
				return w.Worker.State
			}
		}
		return pb.WorkerState_WORKER_STATE_UNSPECIFIED
	}
	if workerState() == pb.WorkerState_WORKER_STATE_DRAINING {
		t.Fatal("a read token drained worker-1")
	}
	log.none(t, "403 (Forbidden)") // the refused drain, which the page reported

	// The model, run and training job pages, once the runs trained.
	if r := waitRun(firstRun); r.State != pb.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("the first run %s: %s\n%s", r.State, r.Reason, describeRun(r))
	}
	run := waitRun(startRun(10))
	if run.State != pb.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("the second run %s: %s\n%s", run.State, run.Reason, describeRun(run))
	}
	mctx, mlog := browse(t)
	login(mctx, reader.Secret)
	if err := chromedp.Do(mctx, chromedp.Navigate(base+"/ui/#/models"), chromedp.WaitVisible(`//a[text()="churn"]`), chromedp.Click(`//a[text()="churn"]`),
		chromedp.WaitVisible(`//h2[text()="Model churn"]`), chromedp.WaitVisible(`//td[text()="v2"] | //a[text()="v2"]`)); err != nil {
		t.Fatalf("model page: %v", err)
	}
	fullShot(mctx, "model")
	runLink := `//a[text()="` + run.Id + `"]`
	if err := chromedp.Do(mctx, chromedp.Navigate(base+"/ui/#/schedules"), chromedp.WaitVisible(`//h2[text()="Ad-hoc runs"]`), chromedp.WaitVisible(runLink)); err != nil {
		t.Fatalf("schedules page: %v", err)
	}
	fullShot(mctx, "schedules")
	if err := chromedp.Do(mctx, chromedp.Click(runLink), chromedp.WaitVisible(`//h2[starts-with(text(), "Data gate")]`),
		chromedp.WaitVisible(`//h2[starts-with(text(), "Evaluation")]`)); err != nil {
		t.Fatalf("run page: %v", err)
	}
	fullShot(mctx, "run")
	if err := chromedp.Do(mctx, chromedp.Navigate(base+"/ui/#/jobs/"+stepOf(run, "train").JobId), chromedp.WaitVisible(`//h2[text()="Metrics by epoch"]`),
		chromedp.WaitVisible(chromedp.CSS("svg.timeline")), chromedp.WaitVisible(`//h2[starts-with(text(), "Generation")]`)); err != nil {
		t.Fatalf("training job page: %v", err)
	}
	fullShot(mctx, "train-job")
	mlog.none(t)

	// The operator: the drain from the page reaches the worker.
	octx, olog := browse(t)
	login(octx, boot.Secret)
	if err := chromedp.Do(octx, chromedp.WaitVisible(drain), acceptConfirms, chromedp.Click(drain),
		chromedp.WaitVisible(`//tr[td[text()="worker-1"]]//button[text()="Undrain"]`)); err != nil {
		t.Fatalf("an operator's drain: %v", err)
	}
	testkit.Wait(t, 10*time.Second, "worker-1 draining", func() bool {
		return workerState() == pb.WorkerState_WORKER_STATE_DRAINING
	})
	// The write records who made it, and the page shows it.
	if err := chromedp.Do(octx, chromedp.WaitVisible(`//tr[td[text()="worker-1"]]/td[contains(text(), "draining by ops")]`)); err != nil {
		t.Fatalf("the workers table does not say who drained worker-1: %v", err)
	}
	shot(octx, "drained")
	olog.none(t)
	t.Logf("screenshots in %s", shots)
}

type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *consoleLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// none fails the test for every message but the expected ones.
func (l *consoleLog) none(t *testing.T, expected ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(s, e) }) {
			t.Errorf("browser: %s", s)
		}
	}
}
