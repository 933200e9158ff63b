package bold.spark;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * The key client Parquet modular encryption calls to wrap and unwrap the keys of the files BOLD hands to Spark.
 *
 * <p>A master key is a 256-bit AES key the driver derives from a workspace key and sets in the job's Hadoop
 * configuration as {@code bold.kms.secret.<master key id>}; Spark carries it to the executors with the rest of the
 * configuration (on a cluster, over its authenticated and encrypted RPC). A key is wrapped with AES-GCM under the
 * master key, the master key's id as associated data, and stored as base64 of nonce, ciphertext and tag: the same
 * format {@code bold.spark.sealed} writes from PyArrow, so files written on either side read on the other.
 */
public final class WorkspaceKms implements KmsClient {
  public static final String SECRET_PREFIX = "bold.kms.secret.";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();
  private Configuration conf;

  @Override
  public void initialize(Configuration configuration, String kmsInstanceID, String kmsInstanceURL, String accessToken) {
    this.conf = configuration;
  }

  private SecretKeySpec master(String masterKeyIdentifier) throws KeyAccessDeniedException {
    String hex = conf.get(SECRET_PREFIX + masterKeyIdentifier);
    if (hex == null) {
      throw new KeyAccessDeniedException("no master key " + masterKeyIdentifier + " in this job's configuration");
    }
    return new SecretKeySpec(HexFormat.of().parseHex(hex), "AES");
  }

  @Override
  public String wrapKey(byte[] keyBytes, String masterKeyIdentifier) throws KeyAccessDeniedException {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, master(masterKeyIdentifier), new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      byte[] sealed = cipher.doFinal(keyBytes);
      return Base64.getEncoder().encodeToString(ByteBuffer.allocate(nonce.length + sealed.length).put(nonce).put(sealed).array());
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("cannot wrap a key under " + masterKeyIdentifier, e);
    }
  }

  @Override
  public byte[] unwrapKey(String wrappedKey, String masterKeyIdentifier) throws KeyAccessDeniedException {
    byte[] wrapped = Base64.getDecoder().decode(wrappedKey);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, master(masterKeyIdentifier), new GCMParameterSpec(TAG_BITS, wrapped, 0, NONCE_BYTES));
      cipher.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      return cipher.doFinal(wrapped, NONCE_BYTES, wrapped.length - NONCE_BYTES);
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("cannot unwrap a key under " + masterKeyIdentifier + " (wrong key or altered file)", e);
    }
  }
}
