;;; eglot_e2e.el --- drive eglot's completion against fim-lsp, headless  -*- lexical-binding: t -*-
;;
;; emacs --batch -l eglot_e2e.el, with FIM_LSP_SERVER (the command), FIM_LSP_E2E_DIR (the
;; project) and FIM_LSP_E2E_CASES (JSON: [{"file", "line", "col"}], 1-based). For each case it
;; opens the file, runs `completion-at-point' (C-M-i) there, and prints one line
;; "RESULT {json}" with the file's text afterwards. The server is the README's eglot setup.
;; A case with "rest": true instead lets the cursor rest there: batch Emacs runs no idle timers,
;; so it calls what eldoc's idle timer calls (eglot's hover, with the highlights piggybacked),
;; and prints the server's prewarm count before and after (fimLsp/stats).

(require 'package)
(package-initialize)  ; Debian's elpa-eglot: eglot 1.9 on Emacs 28
(require 'eglot)
(require 'json)
(setq jsonrpc-default-request-timeout 240)  ; a model run on a busy CI machine

(defvar fim-state nil "The state of the last fimLsp/status notification.")
(cl-defmethod eglot-handle-notification (_server (_method (eql fimLsp/status)) &key state &allow-other-keys)
  (setq fim-state state))

(defun fim-result (&rest fields)
  (princ (concat "RESULT " (json-encode fields) "\n")))

(defun fim-prewarmed ()
  (plist-get (jsonrpc-request (eglot-current-server) :fimLsp/stats nil) :prewarmed))

(defun fim-wait-prewarmed (count)
  "The server's prewarm count once it reaches COUNT, or after 120 s."
  (with-timeout (120 (fim-prewarmed))
    (while (< (fim-prewarmed) count)
      (accept-process-output nil 0.2))
    (fim-prewarmed)))

(let* ((dir (file-name-as-directory (getenv "FIM_LSP_E2E_DIR")))
       (cases (json-read-from-string (getenv "FIM_LSP_E2E_CASES")))
       (started nil))
  (seq-doseq (case cases)
    (find-file (expand-file-name (alist-get 'file case) dir))
    (python-mode)
    (unless started
      (setq started t)
      (eglot '(python-mode) (cons 'transient dir) 'eglot-lsp-server
             (append (split-string (getenv "FIM_LSP_SERVER"))
                     '(:initializationOptions (:maxTokens 64 :timeBudgetMs 60000 :typingBudgetMs 60000)))
             "python")
      (with-timeout (240 (fim-result :error "the server never reported ready") (kill-emacs 2))
        (while (not (member fim-state '("ready" "error")))
          (accept-process-output nil 0.1))))
    (goto-char (point-min))
    (forward-line (1- (alist-get 'line case)))
    (move-to-column (1- (alist-get 'col case)))
    (if (eq (alist-get 'rest case) t)
        (let ((opened (fim-wait-prewarmed 1)))  ; the file's head, on opening it
          (eldoc-print-current-symbol-info t)
          (fim-result :file (alist-get 'file case) :rest t :before opened
                      :after (fim-wait-prewarmed (1+ opened))))
      (condition-case err
          (completion-at-point)
        (error (fim-result :file (alist-get 'file case) :error (error-message-string err))))
      (fim-result :file (alist-get 'file case) :state fim-state
                  :text (buffer-substring-no-properties (point-min) (point-max)))))
  (kill-emacs 0))
