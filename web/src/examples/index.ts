/** Example suites for the editor (copies of the repository's examples/). */
import local from './suite-local.yaml?raw';
import yandex from './suite-yandex.yaml?raw';

export interface Example {
  id: string;
  title: string;
  note: string;
  text: string;
}

export const EXAMPLES: Example[] = [
  {
    id: 'local',
    title: 'Local pgbench (suite-local.yaml)',
    note: 'three pgbench tests, each measured three times, on this server’s own machine: about four minutes.',
    text: local,
  },
  {
    id: 'yandex',
    title: 'Yandex Cloud TPC-C (suite-yandex.yaml)',
    note: 'Stroppy TPC-C on Yandex Cloud VMs; a server without Terraform and Yandex Cloud credentials refuses it.',
    text: yandex,
  },
];
