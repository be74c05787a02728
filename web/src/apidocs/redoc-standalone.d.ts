// The URL of Redoc's standalone bundle, served by this build (see redocStandalone() in
// vite.config.ts).
declare module 'virtual:redoc-standalone' {
  const url: string;
  export default url;
}
