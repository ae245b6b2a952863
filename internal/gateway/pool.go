package gateway

import "sync"

// task is work for the pool: a connection whose inbox needs draining.
type task interface{ run() }

// pool runs tasks on at most max goroutines. Workers start on demand and
// exit when the queue is empty, so an idle pool holds no goroutines.
type pool struct {
	mu      sync.Mutex
	max     int
	queue   []task
	head    int
	workers int
	closed  bool
	idle    *sync.Cond // signalled when the last worker exits
	wg      sync.WaitGroup
}

func newPool(max int) *pool {
	p := &pool{max: max}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// submit queues t. It reports false when the pool is closed.
func (p *pool) submit(t task) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.workers < p.max {
		p.workers++
		p.wg.Add(1)
		go p.work(t)
		return true
	}
	p.queue = append(p.queue, t)
	return true
}

func (p *pool) work(t task) {
	defer p.wg.Done()
	for {
		t.run()
		p.mu.Lock()
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			p.workers--
			if p.workers == 0 {
				p.idle.Broadcast()
			}
			p.mu.Unlock()
			return
		}
		t = p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
	}
}

// setMax changes the bound on workers (a configuration reload); running
// workers above a lower bound finish their task and exit.
func (p *pool) setMax(max int) {
	p.mu.Lock()
	p.max = max
	p.mu.Unlock()
}

// busy reports the number of running workers.
func (p *pool) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workers
}

// close refuses new tasks and waits for the running ones to finish.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}
