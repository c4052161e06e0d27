// The `ping` package ships no types. sshcheck uses only its argument builder (the package's
// own probe() cannot be killed and rewrites process.env), so only that part is declared.
declare module 'ping/lib/builder/factory.js' {
  interface PingConfig {
    numeric?: boolean;
    timeout?: number | false;
    deadline?: number | false;
    min_reply?: number;
    v6?: boolean;
    sourceAddr?: string;
    packetSize?: number;
    extra?: string[];
  }
  interface Builder {
    getCommandArguments(target: string, config?: PingConfig): string[];
  }
  const factory: {
    createBuilder(platform: string): Builder;
    getExecutablePath(platform: string, v6: boolean): string;
    isPlatformSupport(platform: string): boolean;
  };
  export default factory;
}
