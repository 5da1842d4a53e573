import '@xyflow/react/dist/style.css';
import './base.css';
import './composer.css';
import './drift.css';
import './deploy.css';
import './runs.css';
import './labeling.css';
import './agents.css';
