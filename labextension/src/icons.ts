/** The Scanflow icon (three steps joined, the middle one a nested workflow): sidebar tab, launcher card, files. */
import { LabIcon } from '@jupyterlab/ui-components';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="1" y="9" width="6" height="6" rx="1.5"/>
    <rect x="17" y="2" width="6" height="6" rx="1.5"/>
    <rect x="17" y="16" width="6" height="6" rx="1.5"/>
    <path d="M7 11.2h3.2V5.2H17v1.6h-5.2v4.4H14v1.6h-2.2v4.4H17v1.6h-6.8v-6H7z"/>
  </g>
</svg>`;

export const scanflowIcon = new LabIcon({ name: 'scanflow-jupyter:icon', svgstr: SVG });
