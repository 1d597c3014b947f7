import java.nio.charset.StandardCharsets;
import java.security.*;
import java.security.spec.*;
import java.util.Base64;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.jcajce.provider.asymmetric.util.ECUtil;
import org.bouncycastle.crypto.params.*;
import org.bouncycastle.crypto.signers.*;
import org.bouncycastle.crypto.digests.SM3Digest;

// Mirrors id-pointer-sdk: Util.getBytesFromPublicKey (SM2 branch), KeyConverter.toX509Pem,
// PublicKeyAuthenticationInfo.authenticate (EC branch, via hutool SM2.signHex = BC SM2Signer, DER, SM3).
public class SdkVectors {
    static byte[] pemBody(String pem) {
        StringBuilder sb = new StringBuilder();
        for (String l : pem.split("\n")) if (!l.startsWith("-----")) sb.append(l.trim());
        return Base64.getDecoder().decode(sb.toString());
    }
    static String toX509Pem(PublicKey k) {
        StringBuilder sb = new StringBuilder("-----BEGIN PUBLIC KEY-----\r\n");
        byte[] data = Base64.getMimeEncoder().encode(k.getEncoded());
        for (byte b : data) sb.append((char) b);
        if (data[data.length - 1] != '\n') sb.append("\r\n");
        sb.append("-----END PUBLIC KEY-----\r\n");
        return sb.toString();
    }
    static int writeByteArray(byte[] buf, int off, byte[] src) {
        buf[off] = (byte)(src.length >>> 24); buf[off+1] = (byte)(src.length >>> 16);
        buf[off+2] = (byte)(src.length >>> 8); buf[off+3] = (byte)src.length;
        System.arraycopy(src, 0, buf, off + 4, src.length); return 4 + src.length;
    }
    static String hex(byte[] b) { StringBuilder s = new StringBuilder(); for (byte x : b) s.append(String.format("%02x", x)); return s.toString(); }
    public static void main(String[] a) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        String pub = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(a[0])));
        String priv = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(a[1])));
        String user = a[2];
        KeyFactory kf = KeyFactory.getInstance("EC", "BC");
        PublicKey pk = kf.generatePublic(new X509EncodedKeySpec(pemBody(pub)));
        PrivateKey sk = kf.generatePrivate(new PKCS8EncodedKeySpec(pemBody(priv)));
        byte[] type = "SM2_PUB_KEY".getBytes(StandardCharsets.UTF_8);
        byte[] enc = toX509Pem(pk).getBytes(StandardCharsets.UTF_8);
        byte[] hs = new byte[4 * 2 + enc.length + 2 + type.length];
        int off = writeByteArray(hs, 0, type); off += 2; writeByteArray(hs, off, enc);
        System.out.println("hs_pubkey " + hex(hs));
        byte[] nonce = new byte[16]; for (int i = 0; i < 16; i++) nonce[i] = (byte) i;
        byte[] digest = MessageDigest.getInstance("SHA-256").digest("login request".getBytes(StandardCharsets.UTF_8));
        byte[] data = new byte[48]; System.arraycopy(nonce, 0, data, 0, 16); System.arraycopy(digest, 0, data, 16, 32);
        SM3Digest sm3 = new SM3Digest(); sm3.update(data, 0, 48); byte[] h = new byte[32]; sm3.doFinal(h, 0);
        SM2Signer signer = new SM2Signer(StandardDSAEncoding.INSTANCE, new SM3Digest());
        ECPrivateKeyParameters p = (ECPrivateKeyParameters) ECUtil.generatePrivateKeyParameter(sk);
        signer.init(true, new ParametersWithID(new ParametersWithRandom(p), user.getBytes(StandardCharsets.UTF_8)));
        signer.update(h, 0, 32);
        byte[] sig = signer.generateSignature();
        byte[] alg = "SM3".getBytes(StandardCharsets.UTF_8);
        byte[] answer = new byte[sig.length + alg.length + 8];
        int o = writeByteArray(answer, 0, alg); writeByteArray(answer, o, sig);
        System.out.println("nonce " + hex(nonce));
        System.out.println("digest " + hex(digest));
        System.out.println("sm3 " + hex(h));
        System.out.println("answer " + hex(answer));
    }
}
