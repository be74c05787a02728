export function SuitesSection() {
  return (
    <section className="panel" aria-labelledby="suites-heading">
      <div className="panel-head">
        <h2 id="suites-heading">Suites</h2>
      </div>
      <div className="empty-state">
        <p className="empty-title">No suites yet</p>
        <p className="empty-body">Benchmark suites will appear here once they are defined on the server.</p>
      </div>
    </section>
  );
}
