" ale_e2e.vim: drive ALE's LSP completion against fim-lsp in a headless Vim:
"   vim -N -u NONE -i NONE -n -es -S ale_e2e.vim
" with FIM_LSP_SERVER (the command), FIM_LSP_E2E_DIR (the project), FIM_LSP_E2E_CASES (JSON:
" [{"file", "line"}]: complete at the end of that 1-based line) and FIM_LSP_E2E_OUT. For each
" case it presses A<C-x><C-o><Esc> (omnifunc ale#completion#OmniFunc) until the line changes or
" 120 tries (the first ones run while the server starts and the model loads), and writes one JSON line per case with
" the buffer's lines afterwards. Vim keeps a NUL byte in a line as "\n" in getline(). A case with
" "rest": true instead lets the cursor rest on that line: 5 s after opening the file (the server
" warms its head), CursorHold, on which ALE asks for the hover there; then 15 s more (the
" server warms the prompt there: well under a second on an idle machine).
set nocompatible
set runtimepath^=/usr/share/vim-ale
filetype plugin on
let g:ale_completion_enabled = 0
let g:ale_lint_on_enter = 0
let g:ale_lint_on_text_changed = 'never'
runtime plugin/ale.vim
let s:server = split($FIM_LSP_SERVER)
call ale#linter#Define('python', {
\   'name': 'fimlsp',
\   'lsp': 'stdio',
\   'executable': s:server[0],
\   'command': join(['%e'] + s:server[1:]),
\   'project_root': $FIM_LSP_E2E_DIR,
\   'initialization_options': {'maxTokens': 64, 'timeBudgetMs': 60000, 'typingBudgetMs': 60000},
\})
let g:ale_linters = {'python': ['fimlsp']}

let s:out = []
for s:case in json_decode($FIM_LSP_E2E_CASES)
  execute 'edit' fnameescape($FIM_LSP_E2E_DIR . '/' . s:case.file)
  setlocal omnifunc=ale#completion#OmniFunc
  if get(s:case, 'rest', v:false)
    sleep 5
    call cursor(s:case.line, 1)
    doautocmd CursorHold
    sleep 15
    call add(s:out, json_encode({'file': s:case.file, 'rest': v:true}))
    continue
  endif
  let s:before = getline(s:case.line)
  for s:try in range(120)
    call cursor(s:case.line, 1)
    execute "normal! A\<C-x>\<C-o>\<Esc>"
    if getline(s:case.line) !=# s:before
      break
    endif
    sleep 500m
  endfor
  call add(s:out, json_encode({'file': s:case.file, 'tries': s:try + 1, 'lines': getline(1, '$')}))
  write
endfor
call writefile(s:out, $FIM_LSP_E2E_OUT)
qa!
