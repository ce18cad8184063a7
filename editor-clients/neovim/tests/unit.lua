-- Unit tests of the plugin's pure helpers and its setup, in a headless Neovim, no server:
--   nvim -l editor-clients/neovim/tests/unit.lua
local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p'))
vim.opt.rtp:prepend(vim.fs.dirname(here))

local text = require('fim_lsp.text')
local passed, failed = 0, 0

local function test(name, body)
  local ok, err = pcall(body)
  if ok then
    passed = passed + 1
    io.stdout:write('ok     ' .. name .. '\n')
  else
    failed = failed + 1
    io.stdout:write('not ok ' .. name .. '\n       ' .. tostring(err) .. '\n')
  end
end

local function eq(want, got)
  if not vim.deep_equal(want, got) then
    error(('expected %s, got %s'):format(vim.inspect(want), vim.inspect(got)), 2)
  end
end

test('byte_col: utf-16 and utf-8 offsets into a line with multi-byte text', function()
  local line = 's = "é😀x"' -- é is 2 bytes / 1 unit; 😀 is 4 bytes / 2 utf-16 units
  eq(5, text.byte_col(line, 5, 'utf-16')) -- before é
  eq(7, text.byte_col(line, 6, 'utf-16')) -- after é
  eq(11, text.byte_col(line, 8, 'utf-16')) -- after 😀
  eq(11, text.byte_col(line, 7, 'utf-32'))
  eq(7, text.byte_col(line, 7, 'utf-8'))
  eq(#line, text.byte_col(line, 99, 'utf-16')) -- past the end: clamped
end)

test('insert_text: plain strings and snippets', function()
  eq('a * b', text.insert_text({ insertText = 'a * b' }))
  eq('foo(x)', text.insert_text({ insertText = { kind = 'snippet', value = 'foo(${1:x})$0' } }))
  eq('', text.insert_text({}))
end)

test('place: typing that agrees with an item trims it; other typing drops it', function()
  local item = { start = 7, text = 'a * b' } -- asked at "return |"
  eq({ from = 7, typed = '', rest = 'a * b' }, text.place(item, 'return ', 'return '))
  eq({ from = 8, typed = '', rest = ' * b' }, text.place(item, 'return ', 'return a'))
  eq({ from = 12, typed = '', rest = '' }, text.place(item, 'return ', 'return a * b'))
  eq(nil, text.place(item, 'return ', 'return b'))
  eq(nil, text.place(item, 'return ', 'retur'))
  -- A range from the word start: what is typed of the word is part of the item.
  eq({ from = 7, typed = '', rest = 'ult' }, text.place({ start = 4, text = 'result' }, '    re', '    res'))
end)

test('place: a dedent replaces the indentation before the cursor', function()
  local item = { start = 4, text = 'return result' } -- asked at 8 spaces
  local asked = '        '
  eq({ from = 4, typed = '', rest = 'return result' }, text.place(item, asked, asked))
  -- Typing its text keeps it (the typed text is replaced too).
  eq({ from = 4, typed = 're', rest = 'turn result' }, text.place(item, asked, asked .. 're'))
  -- Deleting back to its column makes it a plain insertion at the cursor.
  eq({ from = 4, typed = '', rest = 'return result' }, text.place(item, asked, '    '))
  -- Any other indentation is the user's choice: the item no longer fits.
  eq(nil, text.place(item, asked, asked .. ' '))
  eq(nil, text.place(item, asked, '      '))
  eq(nil, text.place(item, asked, asked .. 'x'))
end)

test('chunk: word, line or all; a line opened above code is taken with its break', function()
  eq('return', text.chunk('return result', 'word', ''))
  eq('return result', text.chunk('return result\nx', 'line', ''))
  eq('return result\nx', text.chunk('return result\nx', 'all', ''))
  -- "result = 0\n    " before "return result": the line and the break that moves the code down.
  eq('result = 0\n    ', text.chunk('result = 0\n    ', 'line', 'return result'))
  eq('result', text.chunk('result = 0\n    ', 'word', 'return result'))
  eq('0\n    ', text.chunk('0\n    ', 'word', 'return result'))
  -- Nothing after the cursor: a trailing break is an ordinary line.
  eq('result = 0', text.chunk('result = 0\n    ', 'line', ''))
end)

test('next_word: a word with the blanks before it, else punctuation', function()
  eq('foo', text.next_word('foo(bar)'))
  eq('  bar', text.next_word('  bar baz'))
  eq('(', text.next_word('(bar)'))
  eq(' *', text.next_word(' * b'))
  eq('\nfoo', text.next_word('\nfoo bar'))
end)

test('next_line: to the end of the line, or the break and the next line', function()
  eq('a * b', text.next_line('a * b\nreturn c'))
  eq('\nreturn c', text.next_line('\nreturn c\nd'))
  eq('x', text.next_line('x'))
end)

test('split_ghost: first line inline, the others below', function()
  local first, rest = text.split_ghost('a\nb\nc')
  eq('a', first)
  eq({ 'b', 'c' }, rest)
  first, rest = text.split_ghost('only')
  eq('only', first)
  eq({}, rest)
end)

test('setup merges options with vim.tbl_deep_extend and keeps defaults', function()
  local fim = require('fim_lsp')
  fim.setup({ cmd = { 'true' }, ghost_text = { debounce_ms = 5 }, settings = { maxTokens = 9 } })
  eq(5, fim.config.ghost_text.debounce_ms)
  eq('FimLspGhostText', fim.config.ghost_text.hl_group)
  eq('<Tab>', fim.config.keymaps.accept)
  eq({ 'true' }, fim.config.cmd)
  local s = fim.server_settings()
  eq(9, s.maxTokens)
  eq(true, s.enabled)
  eq(fim.config.disabled_filetypes, s.disabledLanguages)
  local cc = fim.client_config()
  eq({ fimLsp = s }, cc.settings)
  eq(s, cc.init_options)
  eq(false, cc.capabilities.textDocument.inlineCompletion.dynamicRegistration)
end)

test('remote engine settings reach initializationOptions and workspace/configuration', function()
  local fim = require('fim_lsp')
  local remote = {
    backend = 'openai',
    url = 'http://127.0.0.1:8012',
    remoteModel = 'Qwen/Qwen2.5-Coder-7B',
    apiKeyEnv = 'TEAM_FIM_KEY',
  }
  fim.setup({ cmd = { 'true' }, settings = remote })
  local cc = fim.client_config()
  for key, value in pairs(remote) do
    eq(value, cc.init_options[key])
    eq(value, cc.settings.fimLsp[key])
  end
  -- set_settings merges: a new url keeps the backend and the rest.
  fim.set_settings({ url = 'http://gpu-box.internal:8080' })
  local s = fim.server_settings()
  eq('openai', s.backend)
  eq('http://gpu-box.internal:8080', s.url)
  eq('TEAM_FIM_KEY', s.apiKeyEnv)
end)

test('mode: extmarks unless vim.lsp.inline_completion exists and native is on', function()
  local fim = require('fim_lsp')
  fim.setup({ cmd = { 'true' }, ghost_text = { native = false } })
  eq('extmarks', fim.mode())
  fim.setup({ cmd = { 'true' } })
  local native = vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
  eq(native and 'native' or 'extmarks', fim.mode())
end)

test('a missing server command is reported, not thrown', function()
  local messages = {}
  local notify = vim.notify
  vim.notify = function(msg)
    messages[#messages + 1] = msg
  end
  require('fim_lsp').setup({ cmd = { 'fim-lsp-does-not-exist' } })
  vim.notify = notify
  assert(messages[1] and messages[1]:find('not found'), vim.inspect(messages))
  -- The install that works (issue 12: no package of that name on any index).
  assert(messages[1]:find('scripts/install.sh', 1, true), messages[1])
  assert(not messages[1]:find('pip install fim-lsp', 1, true), messages[1])
end)

test('FimLspGhostText: Comment colours, a grey in terminals; follows :colorscheme', function()
  local api = vim.api
  vim.cmd('highlight clear')
  vim.cmd('highlight Comment guifg=#9ba0a4') -- a GUI colour only, as Neovim's default scheme
  require('fim_lsp').setup({ cmd = { 'true' } })
  local hl = api.nvim_get_hl(0, { name = 'FimLspGhostText' })
  eq(0x9ba0a4, hl.fg)
  eq(8, hl.ctermfg) -- without 'termguicolors' it would otherwise look like code
  vim.cmd('highlight clear') -- what :colorscheme does first; it removes the group
  vim.cmd('highlight Comment ctermfg=244 guifg=#123456')
  api.nvim_exec_autocmds('ColorScheme', {})
  hl = api.nvim_get_hl(0, { name = 'FimLspGhostText' })
  eq({ 0x123456, 244 }, { hl.fg, hl.ctermfg })
  vim.cmd('highlight FimLspGhostText ctermfg=1') -- the user's own wins
  api.nvim_exec_autocmds('ColorScheme', {})
  eq(1, api.nvim_get_hl(0, { name = 'FimLspGhostText' }).ctermfg)
end)

test('the default command falls back to ~/.local/bin/fim-lsp (scripts/install.sh)', function()
  local bin = vim.fn.tempname()
  vim.fn.mkdir(bin, 'p')
  vim.fn.writefile({ '#!/bin/sh' }, bin .. '/fim-lsp')
  vim.fn.setfperm(bin .. '/fim-lsp', 'rwxr-xr-x')
  local fim = require('fim_lsp')
  local saved = vim.env.XDG_BIN_HOME
  vim.env.XDG_BIN_HOME = bin
  fim.config.cmd = { 'fim-lsp', '-v' }
  local ok, err = pcall(function()
    eq(vim.fn.executable('fim-lsp') == 1 and { 'fim-lsp', '-v' } or { bin .. '/fim-lsp', '-v' }, fim.cmd_list())
    fim.config.cmd = { '/somewhere/fim-lsp' }
    eq({ '/somewhere/fim-lsp' }, fim.cmd_list())
  end)
  vim.env.XDG_BIN_HOME = saved
  vim.fn.delete(bin, 'rf')
  assert(ok, err)
end)

test('next_edit: on by default, sending nextEdit = true unless settings say otherwise; off sends nothing', function()
  local fim = require('fim_lsp')
  fim.setup({ cmd = { 'true' } })
  eq(true, fim.config.next_edit.enabled)
  eq(true, fim.server_settings().nextEdit)
  fim.setup({ cmd = { 'true' }, next_edit = { enabled = false } })
  eq(false, fim.config.next_edit.enabled)
  eq(nil, fim.server_settings().nextEdit)
  fim.setup({ cmd = { 'true' }, next_edit = { enabled = true } })
  eq(true, fim.server_settings().nextEdit)
  eq('<M-n>', fim.config.next_edit.keymaps.jump) -- defaults kept beside the option
  fim.setup({ cmd = { 'true' }, next_edit = { enabled = true }, settings = { nextEdit = false } })
  eq(false, fim.server_settings().nextEdit)
end)

test('nextedit.to_edits: UTF-16 columns to bytes; other versions and bad ranges dropped; sorted', function()
  local nextedit = require('fim_lsp.nextedit')
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 's = "é" + size', 'size = 1' })
  local function edit(sl, sc, el, ec, t, version)
    return { text = t, textDocument = { uri = 'file:///x.py', version = version },
             range = { start = { line = sl, character = sc }, ['end'] = { line = el, character = ec } } }
  end
  local result = { edits = {
    edit(1, 0, 1, 4, 'factor', 7),
    edit(0, 10, 0, 14, 'factor', 7), -- `size`: after é, UTF-16 10 is byte 11
    edit(0, 0, 0, 1, 'x', 6), -- another version
    edit(5, 0, 5, 0, 'x', 7), -- past the end of the buffer
    edit(1, 4, 1, 0, 'x', 7), -- end before start
  } }
  local got = nextedit.to_edits(result, buf, 'file:///x.py', 7, 'utf-16')
  eq({ { 0, 11, 0, 15 }, { 1, 0, 1, 4 } }, vim.tbl_map(function(e)
    return { e.row, e.col, e.end_row, e.end_col }
  end, got))
  eq({}, nextedit.to_edits({ edits = { edit(1, 0, 1, 4, 'x', 7) } }, buf, 'file:///other.py', 7, 'utf-16'))
  eq({}, nextedit.to_edits(nil, buf, 'file:///x.py', 7, 'utf-16'))
  vim.api.nvim_buf_delete(buf, { force = true })
end)

test('plugin/ guard defines :FimLsp once', function()
  vim.cmd('runtime plugin/fim_lsp.lua')
  eq(1, vim.g.loaded_fim_lsp)
  eq(2, vim.fn.exists(':FimLsp'))
end)

io.stdout:write(('nvim-unit: %d passed, %d failed\n'):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
