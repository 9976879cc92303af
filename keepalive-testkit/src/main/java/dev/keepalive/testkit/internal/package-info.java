/**
 * Implementation of the testkit. Not API: anything here may change without notice.
 */
package dev.keepalive.testkit.internal;
