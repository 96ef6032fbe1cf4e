package io.runnel.config;

/**
 * A configuration value that cannot be used. The message is one line that names the key, the value, where it came
 * from and what is allowed, because it is printed as the only line a failed start-up shows.
 */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message, null, false, false);
    }
}
