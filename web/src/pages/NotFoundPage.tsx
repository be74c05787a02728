import { Link } from 'react-router';
import { Empty } from '../components/common.tsx';

export function NotFoundPage() {
  return (
    <Empty title="No such page">
      <Link to="/suites">Back to the suites</Link>
    </Empty>
  );
}
