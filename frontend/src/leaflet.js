// Leaflet with the marker-cluster plugin, bundled (no CDN; CSS goes into app.css).
// leaflet.markercluster is a UMD script that extends the global `L`, which Leaflet's own bundle
// sets when it is evaluated, before the plugin (imports run in order).
import L from "leaflet";
import "leaflet.markercluster";
import "leaflet/dist/leaflet.css";
import "leaflet.markercluster/dist/MarkerCluster.css";
import "leaflet.markercluster/dist/MarkerCluster.Default.css";

export default L;
